// Hugging Face tokenizer.json loading (runtime/text/hf-tokenizer.ts, special-tokens.ts, load.ts):
// ids equal to the Python `tokenizers` library's for the fixtures of test/fixtures/tokenizer (made
// offline by make_fixtures.py, which stored the Python ids in expected.json), a save/load round
// trip, the special tokens the tasks need, and a clear error for each broken file.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadShapes } from "../runtime/data/shapes.js";
import { captionIds, lmSequence, promptIds } from "../runtime/tasks/text.js";
import { HfTokenizer } from "../runtime/text/hf-tokenizer.js";
import { loadTokenizer } from "../runtime/text/load.js";
import { TokenizerError } from "../runtime/text/tokenizer.js";
import { compileForData } from "../runtime/train/setup.js";

const FIXTURES = "test/fixtures/tokenizer";
const expected = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8")) as Record<
  string,
  { vocab_size: number; cases: { text: string; ids: number[]; ids_with_special: number[]; decoded: string }[] }
>;
const work = mkdtempSync(join(tmpdir(), "vlmc-tokenizer-hf-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fixtureJson = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, name, "tokenizer.json"), "utf8"));

/** Writes `json` (an object, or raw text) as dir/tokenizer.json, with an optional tokenizer_config.json. */
function writeTokenizer(dir: string, json: unknown, config?: unknown): string {
  const folder = join(work, dir);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "tokenizer.json"), typeof json === "string" ? json : JSON.stringify(json));
  if (config !== undefined) writeFileSync(join(folder, "tokenizer_config.json"), JSON.stringify(config));
  return folder;
}

/** The message of the TokenizerError that `load` throws. */
function errorOf(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(TokenizerError);
    return (err as Error).message;
  }
  throw new Error("expected a TokenizerError");
}

describe("the ids are the Python tokenizers library's", () => {
  for (const name of ["bpe", "wordpiece"]) {
    it(`${name}: encode, encode with the template's special tokens, decode, vocabulary size`, () => {
      const tok = loadTokenizer(join(FIXTURES, name));
      expect(tok.kind).toBe("huggingface");
      expect(tok.size).toBe(expected[name]!.vocab_size);
      for (const c of expected[name]!.cases) {
        expect(tok.encode(c.text), c.text).toEqual(c.ids);
        // The post-processor's template puts exactly the start and end tokens found around a text.
        expect(tok.encode(c.text, { addBos: true, addEos: true }), c.text).toEqual(c.ids_with_special);
        expect(tok.decode(c.ids), c.text).toBe(c.decoded);
      }
    });
  }
});

describe("special tokens", () => {
  it("CLIP-style: start and end from the post-processor's template, padding with the end token, <unk> from the model", () => {
    const tok = loadTokenizer(join(FIXTURES, "bpe")) as HfTokenizer;
    expect(tok.specials.bos).toMatchObject({ token: "<|startoftext|>", id: 0 });
    expect(tok.specials.eos).toMatchObject({ token: "<|endoftext|>", id: 1 });
    expect(tok.padId).toBe(1);
    expect(tok.specials.unk).toMatchObject({ token: "<unk>", id: 2 });
    expect(tok.unknownWords(["a magenta hexagon", "a red circle"])).toEqual(["hexagon"]);
  });

  it("BERT-style: [CLS] and [SEP] as start and end, [PAD] and [UNK]", () => {
    const tok = loadTokenizer(join(FIXTURES, "wordpiece"));
    expect([tok.bosId, tok.eosId, tok.padId, tok.unkId]).toEqual([2, 3, 0, 1]);
    const red = tok.encode("red");
    expect(tok.encode("red", { addBos: true, addEos: true, maxLength: red.length + 4, pad: true })).toEqual([2, ...red, 3, 0, 0]);
  });

  it("found by name among the added tokens when the template says nothing", () => {
    const json = fixtureJson("bpe");
    delete json["post_processor"];
    const tok = loadTokenizer(writeTokenizer("by-name", json));
    expect([tok.bosId, tok.eosId]).toEqual([0, 1]);
  });

  it("a tokenizer_config.json beside the file names them first", () => {
    const tok = loadTokenizer(writeTokenizer("configured", fixtureJson("wordpiece"), { bos_token: "[SEP]", eos_token: { content: "[CLS]" }, pad_token: null }));
    expect([tok.bosId, tok.eosId, tok.padId]).toEqual([3, 2, 0]);
  });
});

describe("saved beside the weights and read back", () => {
  it("keeps the ids and the special tokens, and writes the tokenizer.json unchanged", () => {
    const tok = loadTokenizer(join(FIXTURES, "bpe", "tokenizer.json"));
    const out = join(work, "run");
    mkdirSync(out, { recursive: true });
    tok.save(join(out, "tokenizer.json"));
    expect(readFileSync(join(out, "tokenizer.json"), "utf8")).toBe(readFileSync(join(FIXTURES, "bpe", "tokenizer.json"), "utf8"));
    expect(JSON.parse(readFileSync(join(out, "tokenizer_config.json"), "utf8"))).toMatchObject({
      bos_token: "<|startoftext|>",
      eos_token: "<|endoftext|>",
      pad_token: "<|endoftext|>",
      unk_token: "<unk>",
    });
    const again = loadTokenizer(join(out, "tokenizer.json"));
    expect([again.size, again.bosId, again.eosId, again.padId, again.unkId]).toEqual([tok.size, tok.bosId, tok.eosId, tok.padId, tok.unkId]);
    for (const text of ["a small red circle on the left", "what colour is the shape ?", "a large cyan star"]) {
      expect(again.encode(text)).toEqual(tok.encode(text));
      // Round trip: decoding the ids gives the text back (the shapes world's words are all known).
      expect(again.decode(again.encode(text, { addBos: true, addEos: true, maxLength: 14, pad: true }))).toBe(text);
    }
  });
});

describe("the text tasks frame texts with the tokenizer's own ids", () => {
  const tok = loadTokenizer(join(FIXTURES, "bpe"));
  const text = { tokenizer: tok, seqLen: 12 };

  it("captions: start, text, end, then padding", () => {
    const ids = captionIds(text, "a red circle");
    expect(ids).toEqual([0, ...tok.encode("a red circle"), 1, ...new Array(12 - 2 - tok.encode("a red circle").length).fill(1)]);
  });

  it("decoder sequences: the mask covers the answer and the end token", () => {
    const s = lmSequence(text, "what shape is it ?", "star");
    const prompt = promptIds(text, "what shape is it ?");
    expect(s.tokens.slice(0, prompt.length)).toEqual(prompt);
    expect(s.targets.filter((_, t) => s.mask[t] === 1)).toEqual([...tok.encode("star"), 1]);
  });

  it("CLIP compiles with vocab and the text encoder's eot bound to the tokenizer", () => {
    const tiny = loadShapes({ trainSize: 16, testSize: 8, heldoutSize: 8, seed: 1 });
    const compiled = compileForData("specs/clip.vlm", { set: [], tokenizer: tok }, tiny);
    expect(compiled.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(compiled.bound).toEqual(expect.arrayContaining(["vocab=110", "text.eot=1"]));
    const pool = compiled.program!.nodes.find((n) => n.op === "pool_eot")!;
    expect(pool.attrs["eot"]).toBe(1);
  });

  it("refuses a text encoder pooling at another id, or a start token that is also the end token", () => {
    const tiny = loadShapes({ trainSize: 16, testSize: 8, heldoutSize: 8, seed: 1 });
    expect(() => compileForData("specs/clip.vlm", { set: ["text.eot=5"], tokenizer: tok }, tiny)).toThrow(
      /pools its text at token id 5 \(eot\), but the tokenizer's end-of-text id is 1/,
    );
    const gpt2Like = loadTokenizer(writeTokenizer("one-special", fixtureJson("bpe"), { bos_token: "<|endoftext|>", eos_token: "<|endoftext|>" }));
    expect(() => compileForData("specs/clip.vlm", { set: [], tokenizer: gpt2Like }, tiny)).toThrow(/start- and end-of-text tokens are one token \(id 1\)/);
    // A decoder has no pooling: it trains with such a tokenizer.
    expect(compileForData("specs/kosmos.vlm", { set: [], tokenizer: gpt2Like }, tiny).program).not.toBeNull();
  });

  it("refuses a seq_len too short for the tokenizer's ids, naming the length needed", () => {
    const tiny = loadShapes({ trainSize: 16, testSize: 8, heldoutSize: 8, seed: 1 });
    expect(() => compileForData("specs/kosmos.vlm", { set: ["seq_len=8"], tokenizer: tok }, tiny)).toThrow(/needs 1[0-2] tokens but the model's seq_len is 8/);
  });
});

describe("a broken tokenizer is a clear error", () => {
  it("malformed JSON, not an object, no model, an unknown model type", () => {
    expect(errorOf(() => loadTokenizer(writeTokenizer("malformed", "{ not json")))).toMatch(/tokenizer\.json: malformed JSON/);
    expect(errorOf(() => HfTokenizer.fromText("[1, 2]", undefined, "t.json"))).toMatch(/t\.json: a tokenizer\.json must hold a JSON object/);
    expect(errorOf(() => loadTokenizer(writeTokenizer("neither", { vocab: {} })))).toMatch(/neither a Hugging Face tokenizer\.json .* nor a vocabulary saved by vlmc train/);
    expect(errorOf(() => loadTokenizer(writeTokenizer("no-type", { model: { vocab: {} } })))).toMatch(/needs a "model" object with a "type"/);
    const json = fixtureJson("bpe");
    json["model"] = { type: "Nonsense" };
    expect(errorOf(() => loadTokenizer(writeTokenizer("bad-model", json)))).toMatch(/not a valid Hugging Face tokenizer\.json: /);
  });

  it("no start or end token, or a config naming a token the tokenizer lacks", () => {
    const json = fixtureJson("bpe");
    delete json["post_processor"];
    json["added_tokens"] = (json["added_tokens"] as { content: string }[]).filter((t) => t.content !== "<|startoftext|>");
    expect(errorOf(() => loadTokenizer(writeTokenizer("no-bos", json)))).toMatch(/has no start-of-text token, which the text tasks need: .* add one to its "added_tokens"/);
    expect(errorOf(() => loadTokenizer(writeTokenizer("bad-config", fixtureJson("bpe"), { eos_token: "</s>" })))).toMatch(/tokenizer_config\.json names eos_token "<\/s>", which the tokenizer does not have/);
    expect(errorOf(() => loadTokenizer(writeTokenizer("config-not-object", fixtureJson("bpe"), "x")))).toMatch(/tokenizer_config\.json must hold a JSON object/);
  });

  it("a missing file, or a folder without tokenizer.json", () => {
    expect(errorOf(() => loadTokenizer(join(work, "nowhere.json")))).toMatch(/nowhere\.json: no such tokenizer file or folder/);
    const empty = join(work, "empty");
    mkdirSync(empty, { recursive: true });
    expect(existsSync(join(empty, "tokenizer.json"))).toBe(false);
    expect(errorOf(() => loadTokenizer(empty))).toMatch(/empty: the folder has no tokenizer\.json/);
  });
});
