import { describe, expect, it } from "vitest";
import {
  COLOURS,
  createShapes,
  HELDOUT_COMBINATIONS,
  isHeldoutCombination,
  loadShapes,
  POSITIONS,
  SHAPES,
  SHAPES_QUESTIONS,
  shapesZeroShotPrompts,
  SIZES,
} from "../runtime/data/shapes.js";
import type { Split } from "../runtime/data/types.js";

const small = { seed: 5, trainSize: 400, testSize: 60, heldoutSize: 60 };

function allMeta(split: Split) {
  return Array.from({ length: split.size }, (_, i) => split.meta(i));
}

describe("shapes world: configuration", () => {
  it("has the default split sizes and vocabularies of DESIGN.md", () => {
    const ds = loadShapes();
    expect(ds.splits.train!.size).toBe(20000);
    expect(ds.splits.test!.size).toBe(2000);
    expect(ds.splits.heldout!.size).toBe(1800);
    expect(ds.classes).toEqual(["circle", "square", "triangle", "cross", "star"]);
    expect([...COLOURS]).toEqual(["red", "green", "blue", "yellow", "purple", "cyan"]);
    expect(HELDOUT_COMBINATIONS.map((c) => `${c.colour} ${c.shape}`)).toEqual([
      "red circle",
      "green square",
      "blue triangle",
      "yellow cross",
      "purple star",
      "cyan square",
    ]);
    for (const split of Object.values(ds.splits)) expect(split.imageShape).toEqual([32, 32, 3]);
  });

  it("keeps held-out combinations out of train and test (full default splits), and only them in heldout", () => {
    const ds = loadShapes();
    const trainCombos = new Set<string>();
    for (const name of ["train", "test"]) {
      for (const m of allMeta(ds.splits[name]!)) {
        expect(isHeldoutCombination(m.attrs!.colour!, m.attrs!.shape!)).toBe(false);
        if (name === "train") trainCombos.add(`${m.attrs!.colour} ${m.attrs!.shape}`);
      }
    }
    // Every one of the 24 allowed combinations (so every colour and every shape) occurs in training.
    expect(trainCombos.size).toBe(24);
    for (const colour of COLOURS) expect([...trainCombos].some((c) => c.startsWith(colour + " "))).toBe(true);
    for (const shape of SHAPES) expect([...trainCombos].some((c) => c.endsWith(" " + shape))).toBe(true);

    const heldoutCounts = new Map<string, number>();
    for (const m of allMeta(ds.splits.heldout!)) {
      expect(isHeldoutCombination(m.attrs!.colour!, m.attrs!.shape!)).toBe(true);
      const key = `${m.attrs!.colour} ${m.attrs!.shape}`;
      heldoutCounts.set(key, (heldoutCounts.get(key) ?? 0) + 1);
    }
    expect([...heldoutCounts.values()]).toEqual([300, 300, 300, 300, 300, 300]);
  });

  it("labels are the shape index and shape classes are balanced in train", () => {
    const ds = loadShapes();
    const counts = [0, 0, 0, 0, 0];
    for (const m of allMeta(ds.splits.train!)) {
      expect(m.label).toBe(SHAPES.indexOf(m.attrs!.shape as never));
      counts[m.label]!++;
    }
    for (const n of counts) expect(Math.abs(n - 4000)).toBeLessThan(200);
  });

  it("lists the 30 zero-shot prompts in the form of training captions", () => {
    const prompts = shapesZeroShotPrompts();
    expect(prompts).toHaveLength(30);
    expect(prompts[0]).toEqual({ colour: "red", shape: "circle", prompt: "a red circle" });
    expect(new Set(prompts.map((p) => p.prompt)).size).toBe(30);
  });
});

describe("shapes world: captions and questions", () => {
  const ds = createShapes(small);
  const captionForm = new RegExp(
    `^a ((?:${SIZES.join("|")}) )?(${COLOURS.join("|")}) (${SHAPES.join("|")})( on the (${POSITIONS.join("|")}))?$`,
  );

  it("writes captions 'a {size} {colour} {shape} on the {position}' with size and position each optional", () => {
    const variants = new Set<string>();
    for (const m of allMeta(ds.splits.train!)) {
      const match = captionForm.exec(m.caption!);
      expect(match, m.caption).not.toBeNull();
      const [, size, colour, shape, , position] = match!;
      expect(colour).toBe(m.attrs!.colour);
      expect(shape).toBe(m.attrs!.shape);
      if (size) expect(size.trim()).toBe(m.attrs!.size);
      if (position) expect(position).toBe(m.attrs!.position);
      variants.add(`${size ? "S" : "-"}${position ? "P" : "-"}`);
    }
    expect([...variants].sort()).toEqual(["--", "-P", "S-", "SP"]);
  });

  it("asks the four questions with the attribute as answer", () => {
    const m = ds.splits.test!.meta(3);
    expect(m.qa).toEqual([
      { type: "colour", question: "what colour is the shape ?", answer: m.attrs!.colour },
      { type: "shape", question: "what shape is it ?", answer: m.attrs!.shape },
      { type: "size", question: "is it small or large ?", answer: m.attrs!.size },
      { type: "position", question: "where is the shape ?", answer: m.attrs!.position },
    ]);
    expect(SHAPES_QUESTIONS.colour).toBe("what colour is the shape ?");
  });
});

describe("shapes world: pixels", () => {
  it("is deterministic from the seed: same seed same bytes, another seed different bytes", () => {
    const indices = [0, 1, 2, 50, 399];
    const a = createShapes(small).splits.train!.batch(indices);
    const b = createShapes(small).splits.train!.batch(indices);
    const c = createShapes({ ...small, seed: 6 }).splits.train!.batch(indices);
    expect(a.image.data).toEqual(b.image.data);
    expect(a.label.data).toEqual(b.label.data);
    expect(a.image.data).not.toEqual(c.image.data);
    // A split does not depend on the sizes of the others.
    const d = createShapes({ ...small, testSize: 7, heldoutSize: 1 }).splits.train!.batch(indices);
    expect(d.image.data).toEqual(a.image.data);
    // Images are rendered on first access: the order of access does not change them.
    const late = createShapes(small).splits.train!;
    late.batch([399, 50]);
    expect(late.batch(indices).image.data).toEqual(a.image.data);
  });

  it("gives batches of float32 [n, 32, 32, 3] in [0, 1] and int32 labels", () => {
    const { image, label } = createShapes(small).splits.heldout!.batch([3, 1, 4]);
    expect(image.shape).toEqual([3, 32, 32, 3]);
    expect(image.dtype).toBe("float32");
    expect(label.shape).toEqual([3]);
    expect(label.dtype).toBe("int32");
    for (const v of image.data) expect(v >= 0 && v <= 1).toBe(true);
    expect(() => createShapes(small).splits.test!.batch([60])).toThrow(RangeError);
  });

  // The pixels that stand out from the border colour are the shape: their mean colour must be
  // nearest to the example's colour, their centroid on the named side, and large > small in area.
  const reference: Record<string, [number, number, number]> = {
    red: [0.9, 0.12, 0.1],
    green: [0.15, 0.78, 0.2],
    blue: [0.15, 0.3, 0.95],
    yellow: [0.95, 0.88, 0.12],
    purple: [0.62, 0.18, 0.82],
    cyan: [0.1, 0.85, 0.9],
  };

  it("draws the shape in its colour, at its position, at its size", () => {
    const split = createShapes({ ...small, trainSize: 300 }).splits.train!;
    const indices = Array.from({ length: split.size }, (_, i) => i);
    const { image } = split.batch(indices);
    const areas: Record<string, { small: number[]; large: number[] }> = {};
    for (const i of indices) {
      const m = split.meta(i);
      const px = (x: number, y: number, c: number) => image.data[((i * 32 + y) * 32 + x) * 3 + c]!;
      const border = [0, 1, 2].map((c) => {
        let s = 0;
        for (let k = 0; k < 32; k++) s += px(k, 0, c) + px(k, 31, c) + px(0, k, c) + px(31, k, c);
        return s / 128;
      });
      let count = 0;
      const sum = [0, 0, 0];
      let sx = 0;
      let sy = 0;
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const d = Math.hypot(px(x, y, 0) - border[0]!, px(x, y, 1) - border[1]!, px(x, y, 2) - border[2]!);
          if (d > 0.35) {
            count++;
            for (let c = 0; c < 3; c++) sum[c]! += px(x, y, c);
            sx += x;
            sy += y;
          }
        }
      }
      expect(count, `example ${i} (${m.caption})`).toBeGreaterThan(8);
      const mean = sum.map((s) => s / count);
      const nearest = Object.entries(reference).sort(
        ([, a], [, b]) => Math.hypot(...a.map((v, c) => v - mean[c]!)) - Math.hypot(...b.map((v, c) => v - mean[c]!)),
      )[0]![0];
      expect(nearest, `example ${i} (${m.caption})`).toBe(m.attrs!.colour);
      const cx = sx / count + 0.5;
      const cy = sy / count + 0.5;
      const side = { left: cx < 14, right: cx > 18, top: cy < 14, bottom: cy > 18 }[m.attrs!.position!];
      expect(side, `example ${i} (${m.caption}) centroid ${cx.toFixed(1)},${cy.toFixed(1)}`).toBe(true);
      const bucket = (areas[m.attrs!.shape!] ??= { small: [], large: [] });
      bucket[m.attrs!.size as "small" | "large"].push(count);
    }
    for (const [shape, { small: s, large: l }] of Object.entries(areas)) {
      expect(s.length > 0 && l.length > 0, shape).toBe(true);
      expect(Math.max(...s), shape).toBeLessThan(Math.min(...l));
    }
  });
});
