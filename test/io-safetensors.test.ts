import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { float16BitsToNumber } from "../runtime/io/float16.js";
import {
  type SafetensorsTensor,
  encodeSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from "../runtime/io/safetensors.js";

const scratch = mkdtempSync(join(tmpdir(), "vlmc-io-safetensors-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Raw bytes of a tensor's data, so NaN payloads and -0 compare exactly. */
function bytesOf(tensor: SafetensorsTensor): number[] {
  const { buffer, byteOffset, byteLength } = tensor.data;
  return [...new Uint8Array(buffer, byteOffset, byteLength)];
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });
const count = (shape: number[]) => shape.reduce((n, d) => n * d, 1);

/** Any tensor the writer accepts; F16/BF16 values are exactly representable, so they round-trip. */
const tensorArb: fc.Arbitrary<SafetensorsTensor> = fc.oneof(
  shapeArb.chain((shape) =>
    fc.array(fc.float(), { minLength: count(shape), maxLength: count(shape) }).map(
      (v): SafetensorsTensor => ({ dtype: "F32", shape, data: new Float32Array(v) }),
    ),
  ),
  shapeArb.chain((shape) =>
    fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: count(shape), maxLength: count(shape) }).map(
      (v): SafetensorsTensor => ({ dtype: "I32", shape, data: new Int32Array(v) }),
    ),
  ),
  shapeArb.chain((shape) =>
    fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { minLength: count(shape), maxLength: count(shape) }).map(
      (v): SafetensorsTensor => ({ dtype: "I64", shape, data: new BigInt64Array(v) }),
    ),
  ),
  shapeArb.chain((shape) =>
    fc
      .array(fc.integer({ min: 0, max: 0xffff }).filter((b) => !Number.isNaN(float16BitsToNumber(b))), {
        minLength: count(shape),
        maxLength: count(shape),
      })
      .map((bits): SafetensorsTensor => ({ dtype: "F16", shape, data: new Float32Array(bits.map(float16BitsToNumber)) })),
  ),
  shapeArb.chain((shape) =>
    fc
      .array(fc.integer({ min: 0, max: 0xffff }).filter((b) => (b & 0x7f80) !== 0x7f80 || (b & 0x7f) === 0), {
        minLength: count(shape),
        maxLength: count(shape),
      })
      .map((bits): SafetensorsTensor => {
        const data = new Float32Array(new Uint32Array(bits.map((b) => b << 16)).buffer);
        return { dtype: "BF16", shape, data };
      }),
  ),
);

const nameArb = fc.string({ unit: "binary", minLength: 1, maxLength: 12 }).filter((n) => n !== "__metadata__");
const tensorSetArb = fc.dictionary(nameArb, tensorArb, { maxKeys: 6 });
const metadataArb = fc.option(fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), { nil: undefined });

describe("safetensors write -> read", () => {
  it("round-trips any set of tensors exactly (property)", () => {
    fc.assert(
      fc.property(tensorSetArb, metadataArb, (tensors, metadata) => {
        const file = readSafetensors(encodeSafetensors(tensors, metadata));
        expect([...file.tensors.keys()]).toEqual(Object.keys(tensors).sort());
        for (const [name, expected] of Object.entries(tensors)) {
          const actual = file.tensors.get(name)!;
          expect(actual.dtype).toBe(expected.dtype);
          expect(actual.shape).toEqual(expected.shape);
          expect(bytesOf(actual)).toEqual(bytesOf(expected));
        }
        expect(file.metadata).toEqual(metadata ?? {});
      }),
      { seed: 20261128, numRuns: 150 },
    );
  });

  it("writes the same bytes whatever the insertion order, with an 8-byte aligned header", () => {
    fc.assert(
      fc.property(tensorSetArb, (tensors) => {
        const forward = encodeSafetensors(new Map(Object.entries(tensors)));
        const backward = encodeSafetensors(new Map(Object.entries(tensors).reverse()));
        expect(Buffer.from(backward).equals(Buffer.from(forward))).toBe(true);
        const headerLength = Number(new DataView(forward.buffer).getBigUint64(0, true));
        expect(headerLength % 8).toBe(0);
      }),
      { seed: 7, numRuns: 50 },
    );
  });

  it("writes a file atomically that reads back, header alone included", () => {
    const path = join(scratch, "nested", "small.safetensors");
    writeSafetensors(path, { "b.kernel": { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }, "a.ids": { dtype: "I64", shape: [1], data: new BigInt64Array([-5n]) } }, { format: "pt" });
    const header = readSafetensorsHeader(path);
    expect(header.metadata).toEqual({ format: "pt" });
    expect([...header.tensors]).toEqual([
      ["a.ids", { dtype: "I64", shape: [1], dataOffsets: [0, 8] }],
      ["b.kernel", { dtype: "F32", shape: [2, 2], dataOffsets: [8, 24] }],
    ]);
    expect(header.fileSize).toBe(readFileSync(path).byteLength);
    const file = readSafetensors(path);
    expect(file.tensors.get("b.kernel")!.data).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(file.tensors.get("a.ids")!.data).toEqual(new BigInt64Array([-5n]));
  });

  it("narrows F16 and BF16 on write, rounding to nearest even", () => {
    const file = readSafetensors(
      encodeSafetensors({
        half: { dtype: "F16", shape: [3], data: new Float32Array([1 + 2 ** -11, 65520, 2 ** -25 * 3]) },
        brain: { dtype: "BF16", shape: [2], data: new Float32Array([1 + 3 * 2 ** -8, -0]) },
      }),
    );
    expect(file.tensors.get("half")!.data).toEqual(new Float32Array([1, Infinity, 2 ** -23]));
    expect(file.tensors.get("brain")!.data).toEqual(new Float32Array([1 + 2 ** -6, -0]));
  });

  it("reads hand-built F16 and BF16 data as float32", () => {
    // Header written by hand, as another tool would: F16 [1, -2, smallest subnormal, inf, NaN], BF16 [pi-ish, -inf].
    const header = JSON.stringify({
      h: { dtype: "F16", shape: [5], data_offsets: [0, 10] },
      b: { dtype: "BF16", shape: [2], data_offsets: [10, 14] },
    });
    const data = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00, 0x7e00, 0x4049, 0xff80]);
    const bytes = new Uint8Array(8 + header.length + data.byteLength);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(Buffer.from(header), 8);
    bytes.set(new Uint8Array(data.buffer), 8 + header.length);
    const file = readSafetensors(bytes);
    expect(file.tensors.get("h")).toEqual({ dtype: "F16", shape: [5], data: new Float32Array([1, -2, 2 ** -24, Infinity, NaN]) });
    expect(file.tensors.get("b")).toEqual({ dtype: "BF16", shape: [2], data: new Float32Array([3.140625, -Infinity]) });
  });

  it("rejects tensors the format cannot hold, naming the tensor", () => {
    const bad = (tensor: unknown) => () => encodeSafetensors({ "w.x": tensor as SafetensorsTensor }, undefined, "out.safetensors");
    expect(bad({ dtype: "F32", shape: [3], data: new Float32Array(2) })).toThrow(
      /out\.safetensors: tensor "w\.x": shape \[3\] has 3 elements, but the data has 2/,
    );
    expect(bad({ dtype: "I32", shape: [1], data: new Float32Array(1) })).toThrow(/tensor "w\.x": dtype I32 needs its data as a Int32Array/);
    expect(bad({ dtype: "F64", shape: [1], data: new Float64Array(1) })).toThrow(/tensor "w\.x": cannot write dtype F64/);
    expect(bad({ dtype: "F32", shape: [-1], data: new Float32Array(0) })).toThrow(/tensor "w\.x": shape must be a list of non-negative integers/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: "F32", shape: [], data: new Float32Array(1) } })).toThrow(/not a valid tensor name/);
  });
});

// --- The shared Hugging Face fixtures (one directory above the repository) ---------------------

const FIXTURES = join(import.meta.dirname, "..", "..", "shared", "fixtures");
const fixturesPresent = existsSync(FIXTURES);

/** The "name [shape]" list a fixture README gives under "`<file>`: N tensors". */
function readmeKeys(readme: string, file: string): Map<string, number[]> {
  const section = readme.split(`\`${file}\`:`)[1];
  const block = section?.split("```")[1];
  if (block === undefined) throw new Error(`README lists no keys for ${file}`);
  const keys = new Map<string, number[]>();
  for (const line of block.trim().split("\n")) {
    const match = /^(\S+) \[([\d, ]*)\]$/.exec(line.trim());
    if (!match) throw new Error(`unexpected README key line: ${line}`);
    keys.set(match[1]!, match[2] === "" ? [] : match[2]!.split(",").map(Number));
  }
  return keys;
}

describe.skipIf(!fixturesPresent)(
  fixturesPresent ? "shared HF fixtures" : "shared HF fixtures (skipped: ../shared/fixtures not found next to the repository)",
  () => {
    it.each([
      ["vit-dev", "./model.safetensors", 40],
      ["vit-dev", "classification/model.safetensors", 40],
      ["clip-dev", "./model.safetensors", 78],
    ])("%s %s: names and shapes as the README lists, F32, finite", (fixture, file, tensorCount) => {
      const readme = readFileSync(join(FIXTURES, fixture, "README.md"), "utf8");
      const expected = readmeKeys(readme, file);
      expect(expected.size).toBe(tensorCount);
      const path = join(FIXTURES, fixture, file);

      const header = readSafetensorsHeader(path);
      expect(new Map([...header.tensors].map(([name, entry]) => [name, entry.shape]))).toEqual(expected);

      const { tensors, metadata } = readSafetensors(path);
      expect(metadata).toEqual({ format: "pt" });
      expect(new Map([...tensors].map(([name, t]) => [name, t.shape]))).toEqual(expected);
      for (const [name, tensor] of tensors) {
        expect(tensor.dtype, name).toBe("F32");
        expect(tensor.data.every(Number.isFinite), name).toBe(true);
      }
    });

    it("reads CLIP's scalar logit_scale (shape [])", () => {
      const logitScale = readSafetensors(join(FIXTURES, "clip-dev", "model.safetensors")).tensors.get("logit_scale")!;
      expect(logitScale.shape).toEqual([]);
      expect(logitScale.data[0]).toBeCloseTo(2.6592, 4);
    });

    it("re-encodes the ViT fixture to the same bytes the reference writer produced", () => {
      const original = readFileSync(join(FIXTURES, "vit-dev", "model.safetensors"));
      const { tensors, metadata } = readSafetensors(original);
      expect(Buffer.from(encodeSafetensors(tensors, metadata)).equals(original)).toBe(true);
    });
  },
);
