import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadMnist, parseIdxImages, parseIdxLabels } from "../runtime/data/mnist.js";
import { DataError } from "../runtime/data/types.js";

describe("MNIST", () => {
  it("loads 60k/10k digits of 28×28×1 with labels 0–9 and pixels in [0, 1]", () => {
    const ds = loadMnist();
    expect(ds.name).toBe("mnist");
    expect(ds.classes).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    expect(ds.splits.train!.size).toBe(60000);
    expect(ds.splits.test!.size).toBe(10000);
    expect(ds.splits.train!.imageShape).toEqual([28, 28, 1]);
    expect(loadMnist()).toBe(ds); // parsed once per process

    const { image, label } = ds.splits.test!.batch([0, 1, 2, 3, 4]);
    // The first five test digits are famously 7, 2, 1, 0, 4.
    expect(Array.from(label.data)).toEqual([7, 2, 1, 0, 4]);
    expect(image.shape).toEqual([5, 28, 28, 1]);
    let max = 0;
    let sum = 0;
    for (const v of image.data) {
      expect(v >= 0 && v <= 1).toBe(true);
      max = Math.max(max, v);
      sum += v;
    }
    expect(max).toBe(1);
    const mean = sum / image.data.length;
    expect(mean).toBeGreaterThan(0.05);
    expect(mean).toBeLessThan(0.25);

    const counts = new Array(10).fill(0);
    const train = ds.splits.train!;
    for (let i = 0; i < train.size; i++) counts[train.meta(i).label]++;
    for (const n of counts) expect(n).toBeGreaterThan(5000);
  });

  describe("IDX errors name the file and say what was expected", () => {
    const dir = mkdtempSync(join(tmpdir(), "vlmc-idx-"));
    const header = (...words: number[]) => {
      const b = Buffer.alloc(words.length * 4);
      words.forEach((w, i) => b.writeUInt32BE(w, i * 4));
      return b;
    };

    it("rejects a wrong magic number", () => {
      const path = join(dir, "bad-magic");
      writeFileSync(path, Buffer.concat([header(0x801, 1, 28, 28), Buffer.alloc(784)]));
      expect(() => parseIdxImages(path)).toThrow(DataError);
      expect(() => parseIdxImages(path)).toThrow(/bad-magic: not an IDX image file: magic number 0x00000801, expected 0x00000803/);
    });

    it("rejects a truncated image file", () => {
      const path = join(dir, "truncated");
      writeFileSync(path, Buffer.concat([header(0x803, 2, 28, 28), Buffer.alloc(784)]));
      expect(() => parseIdxImages(path)).toThrow(/truncated: file is 800 bytes, expected 1584 for 2 images/);
    });

    it("rejects an unexpected count and a missing file", () => {
      const path = join(dir, "labels");
      writeFileSync(path, Buffer.concat([header(0x801, 3), Buffer.from([1, 2, 3])]));
      expect(Array.from(parseIdxLabels(path))).toEqual([1, 2, 3]);
      expect(() => parseIdxLabels(path, 5)).toThrow(/holds 3 labels, expected 5/);
      expect(() => parseIdxLabels(join(dir, "nope"))).toThrow(/nope: MNIST file is missing/);
    });

    it("rejects a label out of range", () => {
      const path = join(dir, "bad-label");
      writeFileSync(path, Buffer.concat([header(0x801, 2), Buffer.from([1, 12])]));
      expect(() => parseIdxLabels(path)).toThrow(/label 12 of example 1 is out of range 0–9/);
    });
  });
});
