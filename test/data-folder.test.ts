import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { loadImageFolder } from "../runtime/data/folder.js";
import { loadDataset } from "../runtime/data/index.js";
import { DataError } from "../runtime/data/types.js";

const FIXTURES = join(dirname(new URL(import.meta.url).pathname), "fixtures", "data");

type Rgba = [number, number, number, number];

function png(width: number, height: number, pixel: (x: number, y: number) => Rgba): Buffer {
  const img = new PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) img.data.set(pixel(x, y), (y * width + x) * 4);
  return PNG.sync.write(img);
}

/** Makes a folder holding `files` (path → bytes) and a labels.jsonl with `lines`. */
function folder(files: Record<string, Buffer | string>, lines: Array<object | string>): string {
  const dir = mkdtempSync(join(tmpdir(), "vlmc-folder-"));
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
  writeFileSync(join(dir, "labels.jsonl"), lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
  return dir;
}

const red = () => png(4, 4, () => [255, 0, 0, 255]);
const grey = (v: number) => png(4, 4, () => [v, v, v, 255]);

/** Runs `load` and returns the DataError it throws (failing the test if it throws anything else). */
function dataError(load: () => unknown): DataError {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(DataError);
    return err as DataError;
  }
  throw new Error("expected a DataError, but loading succeeded");
}

describe("image folder: happy paths", () => {
  it("loads PNGs with string labels (classes sorted) and a deterministic 90/10 split", () => {
    const files: Record<string, Buffer> = {};
    const lines: object[] = [];
    for (let i = 0; i < 20; i++) {
      const file = `img/${String(i).padStart(3, "0")}.png`;
      files[file] = png(6, 5, (x) => [i * 10, x * 20, 0, 255]);
      lines.push({ file, label: i % 2 ? "dog" : "cat", caption: `picture ${i}` });
    }
    const dir = folder(files, lines);
    const ds = loadImageFolder(dir);
    expect(ds.classes).toEqual(["cat", "dog"]);
    expect(ds.splits.train!.size).toBe(18);
    expect(ds.splits.test!.size).toBe(2);
    expect(ds.splits.train!.imageShape).toEqual([5, 6, 3]);
    // The split depends on the file names only, not on the order of the lines.
    const testSources = [0, 1].map((k) => ds.splits.test!.meta(k).source);
    writeFileSync(join(dir, "labels.jsonl"), lines.reverse().map((l) => JSON.stringify(l)).join("\n"));
    const again = loadImageFolder(dir);
    expect([0, 1].map((k) => again.splits.test!.meta(k).source).sort()).toEqual([...testSources].sort());
    const m = ds.splits.test!.meta(0);
    const i = Number(/(\d+)\.png$/.exec(m.source!)![1]);
    expect(m.label).toBe(i % 2);
    expect(m.caption).toBe(`picture ${i}`);
    const { image, label } = ds.splits.test!.batch([0]);
    expect(label.data[0]).toBe(i % 2);
    expect(image.shape).toEqual([1, 5, 6, 3]);
    expect(image.data[0]).toBeCloseTo((i * 10) / 255, 6);
    expect(image.data[3 + 1]).toBeCloseTo(20 / 255, 6); // pixel (x=1, y=0), green
  });

  it("uses the given splits, integer labels and classes.txt", () => {
    const dir = folder({ "a.png": red(), "b.png": red(), "c.png": red() }, [
      { file: "a.png", label: 0, split: "train" },
      { file: "b.png", label: 2, split: "train" },
      { file: "c.png", label: 1, split: "test" },
    ]);
    writeFileSync(join(dir, "classes.txt"), "zero\none\ntwo\n");
    const ds = loadImageFolder(dir);
    expect(ds.classes).toEqual(["zero", "one", "two"]);
    expect(Array.from(ds.splits.train!.batch([0, 1]).label.data)).toEqual([0, 2]);
    expect(ds.splits.test!.meta(0).label).toBe(1);
  });

  it("keeps an all-grey folder as 1 channel and makes a mixed one RGB, alpha over black", () => {
    const g = loadImageFolder(folder({ "a.png": grey(100), "b.png": grey(200) }, [
      { file: "a.png", label: "x" },
      { file: "b.png", label: "y" },
    ]));
    expect(g.splits.train!.imageShape).toEqual([4, 4, 1]);

    const half = png(4, 4, () => [200, 100, 0, 128]);
    const mixed = loadImageFolder(folder({ "a.png": grey(100), "b.png": half }, [
      { file: "a.png", label: "x", split: "train" },
      { file: "b.png", label: "y", split: "test" },
    ]));
    expect(mixed.splits.train!.imageShape).toEqual([4, 4, 3]);
    expect(Array.from(mixed.splits.train!.batch([0]).image.data.slice(0, 3)).map((v) => Math.round(v * 255))).toEqual([100, 100, 100]);
    expect(Array.from(mixed.splits.test!.batch([0]).image.data.slice(0, 3)).map((v) => Math.round(v * 255))).toEqual([100, 50, 0]);
  });

  it("reads JPEGs, and caption-only folders (no classes, label -1)", () => {
    const data = Buffer.alloc(8 * 8 * 4, 255);
    const jpg = jpeg.encode({ width: 8, height: 8, data }, 90).data;
    const ds = loadDataset(folder({ "a.jpg": jpg, "b.jpg": jpg }, [
      { file: "a.jpg", caption: "a white square" },
      { file: "b.jpg", caption: "another one" },
    ]));
    expect(ds.classes).toEqual([]);
    expect(ds.splits.train!.size + ds.splits.test!.size).toBe(2);
    expect(ds.splits.train!.meta(0).label).toBe(-1);
    expect(ds.splits.train!.batch([0]).image.data[0]).toBeGreaterThan(0.95);
  });
});

describe("image folder: every bad-data case is a DataError naming the file", () => {
  const ok = { "a.png": red(), "b.png": red() };

  it("a folder without labels.jsonl, or no folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "vlmc-folder-"));
    expect(dataError(() => loadImageFolder(dir)).message).toMatch(/labels\.jsonl: missing labels\.jsonl: expected one JSON object per line/);
    expect(dataError(() => loadImageFolder(join(dir, "nope"))).message).toMatch(/nope: no such folder/);
  });

  it("a malformed JSONL line (with its line number)", () => {
    const dir = folder(ok, [{ file: "a.png", label: "x" }, "{file: b.png}", { file: "b.png", label: "y" }]);
    expect(dataError(() => loadImageFolder(dir)).message).toMatch(/labels\.jsonl:2: malformed JSON/);
    const arr = folder(ok, [{ file: "a.png", label: "x" }, "[1, 2]"]);
    expect(dataError(() => loadImageFolder(arr)).message).toMatch(/labels\.jsonl:2: expected a JSON object, found an array/);
    const nofile = folder(ok, [{ label: "x" }]);
    expect(dataError(() => loadImageFolder(nofile)).message).toMatch(/labels\.jsonl:1: "file" must be a non-empty string/);
  });

  it("a label of the wrong type, mixed kinds, or out of range", () => {
    const float = folder(ok, [{ file: "a.png", label: "x" }, { file: "b.png", label: 1.5 }]);
    expect(dataError(() => loadImageFolder(float)).message).toMatch(/labels\.jsonl:2: "label" must be a class name \(string\) or a non-negative integer, found the number 1\.5/);
    const bool = folder(ok, [{ file: "a.png", label: true }]);
    expect(dataError(() => loadImageFolder(bool)).message).toMatch(/labels\.jsonl:1: .*found a boolean/);
    const mixed = folder(ok, [{ file: "a.png", label: "cat" }, { file: "b.png", label: 1 }]);
    expect(dataError(() => loadImageFolder(mixed)).message).toMatch(/labels\.jsonl:2: "label" is the integer 1 but line 1 has the string "cat"/);
    const range = folder(ok, [{ file: "a.png", label: 0 }, { file: "b.png", label: 5 }]);
    writeFileSync(join(range, "classes.txt"), "cat\ndog\n");
    expect(dataError(() => loadImageFolder(range)).message).toMatch(/labels\.jsonl:2: label 5 is out of range: classes\.txt lists 2 classes \(0–1\)/);
    const unknown = folder(ok, [{ file: "a.png", label: "cat" }, { file: "b.png", label: "cow" }]);
    writeFileSync(join(unknown, "classes.txt"), "cat\ndog\n");
    expect(dataError(() => loadImageFolder(unknown)).message).toMatch(/labels\.jsonl:2: label 'cow' is not one of the classes/);
    const partial = folder(ok, [{ file: "a.png", label: "cat" }, { file: "b.png" }]);
    expect(dataError(() => loadImageFolder(partial)).message).toMatch(/labels\.jsonl:2: this line has no "label"/);
  });

  it("a bad or partial split", () => {
    const bad = folder(ok, [{ file: "a.png", label: "x", split: "valid" }]);
    expect(dataError(() => loadImageFolder(bad)).message).toMatch(/labels\.jsonl:1: "split" must be "train" or "test", found the string "valid"/);
    const partial = folder(ok, [{ file: "a.png", label: "x", split: "train" }, { file: "b.png", label: "x" }]);
    expect(dataError(() => loadImageFolder(partial)).message).toMatch(/labels\.jsonl:2: this line has no "split"/);
    const noTest = folder(ok, [{ file: "a.png", label: "x", split: "train" }]);
    expect(dataError(() => loadImageFolder(noTest)).message).toMatch(/no line has "split": "test"/);
  });

  it("a missing image file, or one outside the folder", () => {
    const dir = folder(ok, [{ file: "a.png", label: "x" }, { file: "img/missing.png", label: "x" }]);
    expect(dataError(() => loadImageFolder(dir)).message).toMatch(/img\/missing\.png: image file not found \(listed at labels\.jsonl line 2\)/);
    const escape = folder(ok, [{ file: "a.png", label: "x" }, { file: "../a.png", label: "x" }]);
    expect(dataError(() => loadImageFolder(escape)).message).toMatch(/labels\.jsonl:2: "file" '\.\.\/a\.png' points outside the folder/);
  });

  it("an image whose size differs from the first, naming both sizes", () => {
    const dir = folder({ "a.png": red(), "b.png": png(5, 4, () => [0, 0, 0, 255]) }, [
      { file: "a.png", label: "x" },
      { file: "b.png", label: "x" },
    ]);
    expect(dataError(() => loadImageFolder(dir)).message).toMatch(/b\.png: image is 5×4 but the first image \(.*a\.png\) is 4×4/);
  });

  it.each([
    ["truncated.png", /truncated\.png: cannot decode PNG .*corrupt or truncated/],
    ["bad-crc.png", /bad-crc\.png: cannot decode PNG/],
    ["truncated.jpg", /truncated\.jpg: cannot decode JPEG/],
    ["not-an-image.png", /not-an-image\.png: expected a PNG or JPEG image, found a file starting with bytes 74 68 69 73/],
  ])("a corrupt image file (%s)", (fixture, message) => {
    const dir = folder({ "a.png": red() }, [{ file: "a.png", label: "x" }, { file: fixture, label: "y" }]);
    copyFileSync(join(FIXTURES, fixture), join(dir, fixture));
    expect(dataError(() => loadImageFolder(dir)).message).toMatch(message);
  });
});

describe("loadDataset", () => {
  it("names the valid datasets when the name is unknown", () => {
    expect(dataError(() => loadDataset("cifar")).message).toBe(
      "unknown dataset 'cifar': expected one of mnist, shapes, or the path of a folder of images with a labels.jsonl",
    );
    expect(dataError(() => loadDataset("./no/such/dir")).message).toMatch(/no such folder/);
  });

  it("passes the shapes options through", () => {
    const ds = loadDataset("shapes", { seed: 1, trainSize: 3, testSize: 2, heldoutSize: 1 });
    expect([ds.splits.train!.size, ds.splits.test!.size, ds.splits.heldout!.size]).toEqual([3, 2, 1]);
  });
});
