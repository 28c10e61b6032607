import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  type JsonTensor,
  TensorJsonError,
  encodeTensorJson,
  parseTensorJson,
  readTensorJson,
  shortestFloat32,
  toInt32Data,
  writeTensorJson,
} from "../runtime/io/tensor-json.js";

const scratch = mkdtempSync(join(tmpdir(), "vlmc-io-tensor-json-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const doc = (tensors: Record<string, unknown>) => JSON.stringify({ tensors });

describe("parseTensorJson", () => {
  it("reads float32, int32 and int64 tensors and ignores extra keys", () => {
    const text = JSON.stringify({
      meta: { case: "x" },
      tensors: {
        pixels: { shape: [2, 2], dtype: "float32", layout: "NCHW", description: "d", data: [0.1, -2, 3.5, 0] },
        ids: { shape: [3], dtype: "int64", data: [97, "9007199254740993", -1] },
        mask: { shape: [], dtype: "int32", data: [1] },
      },
    });
    const tensors = parseTensorJson(text, "in.json");
    expect([...tensors.keys()]).toEqual(["pixels", "ids", "mask"]);
    expect(tensors.get("pixels")).toEqual({ dtype: "float32", shape: [2, 2], data: new Float32Array([0.1, -2, 3.5, 0]) });
    expect(tensors.get("ids")).toEqual({ dtype: "int64", shape: [3], data: new BigInt64Array([97n, 9007199254740993n, -1n]) });
    expect(tensors.get("mask")).toEqual({ dtype: "int32", shape: [], data: new Int32Array([1]) });
  });

  it("reads the non-finite spellings", () => {
    const t = parseTensorJson(doc({ x: { shape: [3], dtype: "float32", data: ["NaN", "Infinity", "-Infinity"] } }), "f.json");
    expect(t.get("x")!.data).toEqual(new Float32Array([NaN, Infinity, -Infinity]));
  });

  const rejects: [string, string, RegExp][] = [
    ["not JSON", "{", /^bad\.json: not valid JSON/],
    ["no tensors key", JSON.stringify({ inputs: {} }), /^bad\.json: expected an object \{"tensors": \{name: \{shape, dtype, data\}\}\}, found an object/],
    ["a top-level list", "[]", /found a list/],
    ["a tensor that is not an object", doc({ x: [1, 2] }), /^bad\.json: tensor "x": expected an object \{shape, dtype, data\}, found a list/],
    ["an unknown dtype", doc({ x: { shape: [1], dtype: "float64", data: [1] } }), /tensor "x": dtype must be one of "float32", "int32", "int64", found string "float64"/],
    ["a missing dtype", doc({ x: { shape: [1], data: [1] } }), /tensor "x": dtype must be one of .*, found nothing/],
    ["a negative dimension", doc({ x: { shape: [2, -1], dtype: "float32", data: [] } }), /tensor "x": shape must be a list of non-negative integers, found \[2,-1\]/],
    ["a fractional dimension", doc({ x: { shape: [1.5], dtype: "float32", data: [1] } }), /tensor "x": shape must be a list of non-negative integers/],
    ["data that is not a list", doc({ x: { shape: [1], dtype: "float32", data: 1 } }), /tensor "x": data must be a flat list of numbers, found number 1/],
    ["too little data", doc({ x: { shape: [2, 3], dtype: "float32", data: [1, 2, 3, 4, 5] } }), /tensor "x": shape \[2, 3\] has 6 elements, but data has 5$/],
    ["nested data", doc({ x: { shape: [2, 2], dtype: "float32", data: [[1, 2], [3, 4]] } }), /has 4 elements, but data has 2 \(data must be flat, in row-major order, not nested lists\)/],
    ["a non-numeric float", doc({ x: { shape: [2], dtype: "float32", data: [1, "two"] } }), /tensor "x": data\[1\] must be a number \(or "NaN", "Infinity", "-Infinity"\), found string "two"/],
    ["a string that is not a number", doc({ x: { shape: [1], dtype: "float32", data: ["constructor"] } }), /data\[0\] must be a number .*found string "constructor"/],
    ["a null float", doc({ x: { shape: [1], dtype: "float32", data: [null] } }), /data\[0\] must be a number .*found null/],
    ["a float beyond float32", doc({ x: { shape: [1], dtype: "float32", data: [1e39] } }), /data\[0\] must be within the float32 range/],
    ["a fractional int32", doc({ x: { shape: [2], dtype: "int32", data: [1, 2.5] } }), /tensor "x": data\[1\] must be an int32 integer, found number 2\.5/],
    ["an int32 overflow", doc({ x: { shape: [1], dtype: "int32", data: [2147483648] } }), /data\[0\] must be an int32 integer/],
    ["an unsafe int64 number", doc({ x: { shape: [1], dtype: "int64", data: [9007199254740993] } }), /data\[0\] must be an int64 integer/],
    ["an int64 string overflow", doc({ x: { shape: [1], dtype: "int64", data: ["9223372036854775808"] } }), /data\[0\] must be an int64 integer/],
    ["a boolean int64", doc({ x: { shape: [1], dtype: "int64", data: [true] } }), /data\[0\] must be an int64 integer .*found boolean true/],
  ];
  it.each(rejects)("rejects %s", (_case, text, message) => {
    let caught: unknown;
    try {
      parseTensorJson(text, "bad.json");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TensorJsonError);
    expect((caught as Error).message).toMatch(message);
  });

  it("names the file when it cannot be read", () => {
    expect(() => readTensorJson(join(scratch, "missing.json"))).toThrow(/missing\.json: cannot read the file \(ENOENT/);
  });
});

describe("writeTensorJson", () => {
  it("writes the shortest decimals that read back as the same float32", () => {
    expect(shortestFloat32(0.1)).toBe("0.1");
    expect(shortestFloat32(Math.fround(0.1))).toBe("0.1");
    expect(shortestFloat32(1 / 3)).toBe("0.33333334");
    expect(shortestFloat32(-0)).toBe("-0");
    expect(shortestFloat32(2 ** -149)).toBe("1e-45");
    expect(shortestFloat32(3.4028234663852886e38)).toBe("3.4028235e+38");
    expect(shortestFloat32(NaN)).toBe('"NaN"');
  });

  it("round-trips any float32, int32 and int64 tensors (property)", () => {
    const shapeArb = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 });
    const count = (s: number[]) => s.reduce((n, d) => n * d, 1);
    const tensorArb: fc.Arbitrary<JsonTensor> = fc.oneof(
      shapeArb.chain((shape) =>
        fc.array(fc.float(), { minLength: count(shape), maxLength: count(shape) }).map((v): JsonTensor => ({ dtype: "float32", shape, data: new Float32Array(v) })),
      ),
      shapeArb.chain((shape) =>
        fc.array(fc.integer(), { minLength: count(shape), maxLength: count(shape) }).map((v): JsonTensor => ({ dtype: "int32", shape, data: new Int32Array(v) })),
      ),
      shapeArb.chain((shape) =>
        fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { minLength: count(shape), maxLength: count(shape) }).map(
          (v): JsonTensor => ({ dtype: "int64", shape, data: new BigInt64Array(v) }),
        ),
      ),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), tensorArb, { maxKeys: 4 }), (tensors) => {
        const back = parseTensorJson(encodeTensorJson(tensors, { note: "x" }), "t.json");
        expect(new Map(Object.entries(tensors))).toEqual(back);
      }),
      { seed: 11, numRuns: 150 },
    );
  });

  it("writes a readable file atomically", () => {
    const path = join(scratch, "out", "out.json");
    writeTensorJson(path, new Map([["logits", { dtype: "float32", shape: [1, 2], data: new Float32Array([0.5, -1]) }]]), { model: "m" });
    expect(readFileSync(path, "utf8")).toBe(
      '{\n "meta": {"model":"m"},\n "tensors": {\n  "logits": {"shape":[1,2],"dtype":"float32","data":[0.5,-1]}\n }\n}\n',
    );
    expect(readTensorJson(path).get("logits")!.data).toEqual(new Float32Array([0.5, -1]));
  });

  it("refuses a tensor whose data does not fill its shape", () => {
    expect(() => encodeTensorJson({ y: { dtype: "float32", shape: [3], data: new Float32Array(2) } }, undefined, "o.json")).toThrow(
      /o\.json: tensor "y": shape \[3\] has 3 elements, but data has 2/,
    );
  });
});

describe("toInt32Data", () => {
  it("narrows int64 ids that fit and names the tensor when one does not", () => {
    expect(toInt32Data(new BigInt64Array([97n, -3n]), "input_ids")).toEqual(new Int32Array([97, -3]));
    expect(() => toInt32Data(new BigInt64Array([1n, 2n ** 31n]), "input_ids")).toThrow(/input_ids: value 2147483648 at index 1 does not fit in int32/);
  });
});

const FIXTURES = join(import.meta.dirname, "..", "..", "shared", "fixtures");
const fixturesPresent = existsSync(FIXTURES);

describe.skipIf(!fixturesPresent)(
  fixturesPresent ? "shared HF fixtures" : "shared HF fixtures (skipped: ../shared/fixtures not found next to the repository)",
  () => {
    it("reads the CLIP inputs and outputs with the shapes and dtypes the README gives", () => {
      const inputs = readTensorJson(join(FIXTURES, "clip-dev", "inputs.json"));
      expect([...inputs].map(([n, t]) => [n, t.dtype, t.shape])).toEqual([
        ["pixel_values", "float32", [2, 3, 32, 32]],
        ["input_ids", "int64", [3, 12]],
        ["attention_mask", "int64", [3, 12]],
      ]);
      const outputs = readTensorJson(join(FIXTURES, "clip-dev", "outputs.json"));
      expect(outputs.get("logits_per_image")!.shape).toEqual([2, 3]);
      expect(outputs.get("text_last_hidden_state")!.shape).toEqual([3, 12, 64]);
      for (const [name, t] of outputs) expect((t.data as Float32Array).every(Number.isFinite), name).toBe(true);
    });

    it("reads the ViT outputs", () => {
      const outputs = readTensorJson(join(FIXTURES, "vit-dev", "outputs.json"));
      expect([...outputs].map(([n, t]) => [n, t.shape])).toEqual([
        ["last_hidden_state", [2, 65, 64]],
        ["pooler_output", [2, 64]],
        ["logits", [2, 10]],
        ["hidden_states", [3, 2, 65, 64]],
      ]);
    });
  },
);
