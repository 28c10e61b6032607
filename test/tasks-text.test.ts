// Text fields for the shapes world: what the trainer feeds a CLIP text tower (captions) and a
// KOSMOS decoder (question–answer and caption sequences), checked by decoding them back.
import { describe, expect, it } from "vitest";
import { DataError } from "../runtime/data/types.js";
import { loadShapes } from "../runtime/data/shapes.js";
import { contrastiveTask } from "../runtime/tasks/contrastive.js";
import { lmTask } from "../runtime/tasks/lm.js";
import { TaskError } from "../runtime/tasks/index.js";
import { compileForData } from "../runtime/train/setup.js";
import { buildTokenizer, captionIds, lmSequence, longestText, promptIds } from "../runtime/tasks/text.js";
import { BOS_ID, EOS_ID, PAD_ID, WordTokenizer } from "../runtime/text/tokenizer.js";

const shapes = loadShapes({ trainSize: 64, testSize: 16, heldoutSize: 12, seed: 2 });
const tokenizer = buildTokenizer(shapes);
const text = { tokenizer, seqLen: 12 };

describe("caption fields (contrastive)", () => {
  it("are <bos> caption <eos> then padding, and decode back to the caption", () => {
    const ids = captionIds(text, "a small red circle on the left");
    expect(ids).toHaveLength(12);
    expect(ids[0]).toBe(BOS_ID);
    expect(ids.indexOf(EOS_ID)).toBe(8); // 7 words after <bos>
    expect(ids.slice(9)).toEqual([PAD_ID, PAD_ID, PAD_ID]);
    expect(tokenizer.decode(ids)).toBe("a small red circle on the left");
  });

  it("fill a batch's tokens from each example's own caption", () => {
    const split = contrastiveTask(text).wrap(shapes.splits["train"]!);
    const batch = split.batch([3, 0, 5]) as unknown as Record<string, { shape: number[]; data: Int32Array }>;
    expect(batch["tokens"]!.shape).toEqual([3, 12]);
    [3, 0, 5].forEach((index, row) => {
      expect(tokenizer.decode(batch["tokens"]!.data.subarray(row * 12, (row + 1) * 12))).toBe(split.base.meta(index).caption);
    });
  });

  it("refuse a text longer than seq_len, naming the flag that fixes it", () => {
    expect(() => captionIds({ tokenizer, seqLen: 5 }, "a small red circle on the left")).toThrow(DataError);
    expect(() => captionIds({ tokenizer, seqLen: 5 }, "a small red circle on the left")).toThrow(/needs 9 tokens .* --set seq_len=9/);
  });
});

describe("decoder sequences (lm)", () => {
  it("shift tokens against targets and mask only the answer and the final <eos>", () => {
    const s = lmSequence(text, "what colour is the shape ?", "red");
    // <bos> what colour is the shape ? red <eos>: tokens are the first 8, targets the last 8.
    expect(tokenizer.decode(s.tokens)).toBe("what colour is the shape ? red");
    expect(s.tokens[0]).toBe(BOS_ID);
    expect(s.targets.slice(0, 8)).toEqual([...s.tokens.slice(1, 8), EOS_ID]);
    expect(s.mask).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]);
    expect(s.targets.filter((_, t) => s.mask[t] === 1)).toEqual([tokenizer.idOf("red"), EOS_ID]);
    // Greedy decoding starts where the mask starts: after <bos> and the question.
    expect(promptIds(text, "what colour is the shape ?")).toEqual(s.tokens.slice(0, 7));
  });

  it("use a caption as a sequence whose every word counts", () => {
    const s = lmSequence(text, "", "a red circle");
    expect(s.mask.slice(0, 4)).toEqual([1, 1, 1, 1]);
    expect(s.targets.slice(0, 4)).toEqual([..."a red circle".split(" ").map((w) => tokenizer.idOf(w)), EOS_ID]);
  });

  it("expand each example into its question–answer pairs and its caption", () => {
    const split = lmTask(text).wrap(shapes.splits["train"]!);
    expect(split.size).toBe(64 * 5);
    const rows = [0, 1, 2, 3, 4, 7];
    const batch = split.batch(rows) as unknown as Record<string, { shape: number[]; data: Int32Array | Float32Array }>;
    for (const field of ["tokens", "targets", "target_mask"]) expect(batch[field]!.shape).toEqual([6, 12]);
    const decoded = rows.map((_, r) => {
      const at = (f: string) => [...batch[f]!.data.subarray(r * 12, (r + 1) * 12)];
      const mask = at("target_mask");
      return { input: tokenizer.decode(at("tokens")), answer: tokenizer.decode(at("targets").filter((_, t) => mask[t] === 1)) };
    });
    const meta0 = split.base.meta(0);
    const meta1 = split.base.meta(1);
    expect(decoded.slice(0, 4)).toEqual(meta0.qa!.map((qa) => ({ input: `${qa.question} ${qa.answer}`, answer: qa.answer })));
    expect(decoded[4]).toEqual({ input: meta0.caption, answer: meta0.caption });
    expect(decoded[5]).toEqual({ input: `${meta1.qa![2]!.question} ${meta1.qa![2]!.answer}`, answer: meta1.qa![2]!.answer });
  });

  it("leave the captions out when the spec says train { captions = false }", () => {
    expect(lmTask(text, { captions: false }).wrap(shapes.splits["train"]!).size).toBe(64 * 4);
  });

  it("measure the longest text a split needs, for the seq_len check", () => {
    const caption = longestText(shapes.splits["train"]!, "caption", tokenizer);
    const lm = longestText(shapes.splits["train"]!, "lm", tokenizer);
    expect(caption.length).toBeLessThanOrEqual(9); // <bos> a small red circle on the left <eos>
    expect(lm.length).toBe(8); // <bos> + 6 question words + a one-word answer (tokens drop the last id)
  });
});

describe("the tokenizer from the training text", () => {
  it("knows every word of the world and survives a save/load round trip", () => {
    for (const word of ["circle", "cyan", "small", "bottom", "?", "where"]) expect(tokenizer.idOf(word)).toBeGreaterThan(3);
    const again = WordTokenizer.fromJSON(JSON.parse(JSON.stringify(tokenizer.toJSON())));
    expect(again.vocab).toEqual(tokenizer.vocab);
    expect(again.encode("what shape is it ?")).toEqual(tokenizer.encode("what shape is it ?"));
  });
});

describe("binding a text model to the data", () => {
  it("sets vocab from the tokenizer, and refuses a vocab or seq_len the data does not fit", () => {
    const bound = compileForData("specs/kosmos.vlm", { set: [] }, shapes);
    expect(bound.bound).toEqual([`vocab=${tokenizer.size}`]);
    expect(bound.task!.name).toBe("lm");
    expect(bound.dataset!.splits["heldout"]!.size).toBe(12 * 5);

    const small = () => compileForData("specs/clip.vlm", { set: ["vocab=8"] }, shapes);
    expect(small).toThrow(TaskError);
    expect(small).toThrow(new RegExp(`the tokenizer has ${tokenizer.size} tokens but model Clip has vocab = 8: .*--set vocab=${tokenizer.size} or more`));
    expect(() => compileForData("specs/clip.vlm", { set: ["seq_len=4"] }, shapes)).toThrow(/needs \d+ tokens but the model's seq_len is 4: train with --set seq_len=\d+/);
  });
});
