import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DataError } from "../runtime/data/types.js";
import { createShapes, HELDOUT_COMBINATIONS } from "../runtime/data/shapes.js";
import { splitTexts } from "../runtime/text/corpus.js";
import { BOS_ID, EOS_ID, PAD_ID, splitWords, UNK_ID, WordTokenizer } from "../runtime/text/tokenizer.js";

const corpus = ["a small red circle on the left", "what colour is the shape ?", "a red square", "Red!"];

describe("WordTokenizer", () => {
  const tok = WordTokenizer.build(corpus);

  it("splits lower-cased words and punctuation", () => {
    expect(splitWords("What shape is it?")).toEqual(["what", "shape", "is", "it", "?"]);
    expect(splitWords("  Red,  circle ")).toEqual(["red", ",", "circle"]);
  });

  it("orders the vocabulary deterministically: specials, then by count, then alphabetically", () => {
    expect(tok.vocab.slice(0, 4)).toEqual(["<pad>", "<bos>", "<eos>", "<unk>"]);
    // red ×3, a ×2, the ×2, then the words seen once in code-point order
    expect(tok.vocab.slice(4, 7)).toEqual(["red", "a", "the"]);
    expect(tok.vocab.slice(7)).toEqual(["!", "?", "circle", "colour", "is", "left", "on", "shape", "small", "square", "what"]);
    expect(WordTokenizer.build([...corpus].reverse()).vocab).toEqual(tok.vocab);
  });

  it("round-trips text through encode/decode", () => {
    for (const text of ["a small red circle on the left", "what colour is the shape ?"]) {
      expect(tok.decode(tok.encode(text, { addBos: true, addEos: true }))).toBe(text);
    }
  });

  it("round-trips any sentence of known words, and never emits an id outside the vocabulary", () => {
    const words = tok.vocab.slice(4);
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...words), { maxLength: 12 }), fc.nat(16), (sentence, maxLength) => {
        const text = sentence.join(" ");
        expect(tok.decode(tok.encode(text, { addBos: true, addEos: true }))).toBe(text);
        const ids = tok.encode(text.toUpperCase(), { addBos: true, addEos: true, maxLength, pad: true });
        expect(ids).toHaveLength(maxLength);
        for (const id of ids) expect(id >= 0 && id < tok.size).toBe(true);
      }),
      { seed: 1, numRuns: 200 },
    );
  });

  it("maps unknown words to <unk>", () => {
    const ids = tok.encode("a purple circle");
    expect(ids).toEqual([tok.idOf("a"), UNK_ID, tok.idOf("circle")]);
    expect(tok.decode(ids)).toBe("a <unk> circle");
  });

  it("adds <bos>/<eos>, pads to maxLength and truncates keeping <eos>", () => {
    const ids = tok.encode("a red square", { addBos: true, addEos: true, maxLength: 8, pad: true });
    expect(ids).toEqual([BOS_ID, tok.idOf("a"), tok.idOf("red"), tok.idOf("square"), EOS_ID, PAD_ID, PAD_ID, PAD_ID]);
    const cut = tok.encode("a small red circle on the left", { addBos: true, addEos: true, maxLength: 4 });
    expect(cut).toEqual([BOS_ID, tok.idOf("a"), tok.idOf("small"), EOS_ID]);
    expect(tok.decode([BOS_ID, tok.idOf("red"), EOS_ID, tok.idOf("a")])).toBe("red");
  });

  it("encodes a batch into one padded int32 array with lengths", () => {
    const { ids, shape, lengths } = tok.encodeBatch(["a red square", "red"], { maxLength: 5, addEos: true });
    expect(shape).toEqual([2, 5]);
    expect(Array.from(lengths)).toEqual([4, 2]);
    expect(Array.from(ids)).toEqual([tok.idOf("a"), tok.idOf("red"), tok.idOf("square"), EOS_ID, PAD_ID, tok.idOf("red"), EOS_ID, 0, 0, 0]);
  });

  it("saves atomically and loads back the same tokenizer", () => {
    const dir = mkdtempSync(join(tmpdir(), "vlmc-tok-"));
    const path = join(dir, "tokenizer.json");
    tok.save(path);
    expect(readdirSync(dir)).toEqual(["tokenizer.json"]); // no temp file left behind
    const loaded = WordTokenizer.load(path);
    expect(loaded.vocab).toEqual(tok.vocab);
    expect(loaded.encode("what colour is the shape ?")).toEqual(tok.encode("what colour is the shape ?"));
    expect(WordTokenizer.fromJSON(JSON.parse(JSON.stringify(tok))).vocab).toEqual(tok.vocab);
  });

  it("rejects broken tokenizer files with the file name", () => {
    const dir = mkdtempSync(join(tmpdir(), "vlmc-tok-"));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{not json");
    expect(() => WordTokenizer.load(bad)).toThrow(DataError);
    expect(() => WordTokenizer.load(bad)).toThrow(/bad\.json: malformed JSON/);
    writeFileSync(bad, JSON.stringify({ format: "vlmc-word-tokenizer", version: 1, vocab: ["a", "b"] }));
    expect(() => WordTokenizer.load(bad)).toThrow(/vocab\[0\] must be <pad>/);
    expect(() => WordTokenizer.load(join(dir, "missing.json"))).toThrow(/missing\.json: cannot read the tokenizer file/);
  });
});

describe("a vocabulary for the shapes world", () => {
  it("built from the training split covers every prompt, caption and answer of the held-out split", () => {
    const ds = createShapes({ seed: 0, trainSize: 500, testSize: 0, heldoutSize: 60 });
    const tok = WordTokenizer.build(splitTexts(ds.splits.train!));
    for (const text of splitTexts(ds.splits.heldout!)) expect(tok.encode(text), text).not.toContain(UNK_ID);
    for (const { colour, shape } of HELDOUT_COMBINATIONS) expect(tok.encode(`a ${colour} ${shape}`)).not.toContain(UNK_ID);
    // 4 specials + a, on, the, ? + question words + 6 colours, 5 shapes, 2 sizes, 4 positions
    expect(tok.size).toBeLessThan(40);
  });
});
