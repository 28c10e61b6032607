// Every way a safetensors file from a stranger can be broken gets its own clear error, from
// bytes built here by hand. Each case is read both from a buffer and from a file on disk.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SafetensorsError, type SafetensorsErrorKind, readSafetensors, readSafetensorsHeader } from "../runtime/io/safetensors.js";
import { firstDuplicateTopLevelKey } from "../runtime/io/safetensors-header.js";

const scratch = mkdtempSync(join(tmpdir(), "vlmc-io-malformed-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A file: the 8-byte length (or `declaredLength`), the header text, then `dataBytes` zero bytes. */
function build(header: unknown, dataBytes: number, declaredLength?: bigint): Uint8Array {
  const text = typeof header === "string" ? Buffer.from(header) : Buffer.from(JSON.stringify(header));
  const bytes = new Uint8Array(8 + text.byteLength + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, declaredLength ?? BigInt(text.byteLength), true);
  bytes.set(text, 8);
  return bytes;
}

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: "F32", shape, data_offsets: [begin, end] });

/** Reads `bytes` from memory and from disk; both must fail with `kind` and a message matching `message`. */
function expectRejected(
  bytes: Uint8Array,
  kind: SafetensorsErrorKind,
  message: RegExp,
  read: (source: string | Uint8Array, label?: string) => unknown = readSafetensors,
): void {
  const path = join(scratch, `${kind}.safetensors`);
  writeFileSync(path, bytes);
  for (const [source, label] of [
    [bytes, "bad.safetensors"],
    [path, path],
  ] as const) {
    let caught: unknown;
    try {
      read(source, label);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SafetensorsError);
    const error = caught as SafetensorsError;
    expect(error.kind).toBe(kind);
    expect(error.file).toBe(label);
    expect(error.message.startsWith(`${label}: `)).toBe(true);
    expect(error.message).toMatch(message);
  }
}

describe("malformed safetensors files", () => {
  it("a file shorter than the length prefix", () => {
    expectRejected(new Uint8Array(5), "too-short", /5 bytes, expected at least 8/);
    expectRejected(new Uint8Array(0), "too-short", /0 bytes/);
  });

  it("a 2 GB header length in a small file, refused before reading or allocating it", () => {
    expectRejected(build("{}", 0, 2n ** 31n), "header-too-large", /header length 2147483648 bytes exceeds the limit/);
    expectRejected(build("{}", 0, 2n ** 64n - 1n), "header-too-large", /18446744073709551615/);
    expectRejected(build("{}", 0, 2n ** 31n), "header-too-large", /exceeds/, readSafetensorsHeader);
  });

  it("a header length past the end of the file", () => {
    expectRejected(build("{}", 10, 1000n), "header-past-end", /header length 1000 bytes runs past the end of the file \(20 bytes/);
  });

  it("a header that is not JSON, not UTF-8, or not an object", () => {
    expectRejected(build('{"a": ', 0), "invalid-header", /header is not valid JSON/);
    const notUtf8 = new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0xc3, 0x7d]);
    expectRejected(notUtf8, "invalid-header", /not valid UTF-8/);
    expectRejected(build("[1, 2]", 0), "invalid-header", /must be a JSON object, found an array/);
    expectRejected(build("42", 0), "invalid-header", /found number 42/);
  });

  it("metadata that is not an object of strings", () => {
    expectRejected(build({ __metadata__: { format: 1 } }, 0), "invalid-metadata", /"format" is number 1/);
    expectRejected(build({ __metadata__: [] }, 0), "invalid-metadata", /must be an object/);
  });

  it("a tensor entry that is not an object", () => {
    expectRejected(build({ w: 3 }, 0), "invalid-tensor", /tensor "w": expected \{"dtype", "shape", "data_offsets"\}/);
  });

  it("an unknown dtype", () => {
    expectRejected(build({ w: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, 16), "unknown-dtype", /tensor "w": unknown dtype "F128"/);
    expectRejected(build({ w: { shape: [1], data_offsets: [0, 4] } }, 4), "unknown-dtype", /unknown dtype undefined/);
  });

  it("a dtype the format knows but this reader does not load (the header alone still reads)", () => {
    const bytes = build({ w: { dtype: "F64", shape: [2], data_offsets: [0, 16] } }, 16);
    expectRejected(bytes, "unsupported-dtype", /tensor "w": dtype F64 is not supported \(supported: F32, F16, BF16, I32, I64\)/);
    expect(readSafetensorsHeader(bytes).tensors.get("w")).toEqual({ dtype: "F64", shape: [2], dataOffsets: [0, 16] });
  });

  it("shapes with negative, fractional or non-numeric dimensions", () => {
    for (const shape of [[-1], [1.5], ["2"], 4, null]) {
      expectRejected(build({ w: { dtype: "F32", shape, data_offsets: [0, 0] } }, 0), "invalid-shape", /tensor "w": shape must be a list of non-negative integers/);
    }
  });

  it("data_offsets that are malformed or end before they begin", () => {
    for (const offsets of [[0], [0, 4, 8], [-4, 0], [0, "4"], [8, 4], "0-4"]) {
      expectRejected(build({ w: { dtype: "F32", shape: [1], data_offsets: offsets } }, 8), "invalid-offsets", /tensor "w": data_offsets must be \[begin, end\]/);
    }
  });

  it("data_offsets past the end of the data section", () => {
    expectRejected(build({ w: f32([1], 1000, 1004) }, 8), "offsets-out-of-range", /tensor "w": data_offsets \[1000, 1004\] start past the end of the data section \(8 bytes\)/);
  });

  it("a shape whose byte size disagrees with its offsets", () => {
    expectRejected(build({ w: f32([2, 3], 0, 20) }, 20), "size-mismatch", /tensor "w": shape \[2, 3\] of F32 needs 24 bytes, but data_offsets \[0, 20\] hold 20/);
    // Element counts beyond 2^53 must not wrap around to a small number.
    expectRejected(build({ w: f32([2 ** 26, 2 ** 26, 2 ** 26], 0, 0) }, 0), "size-mismatch", /needs 1208925819614629174706176 bytes/);
  });

  it("overlapping tensors", () => {
    expectRejected(build({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12), "overlap", /tensor "b": data_offsets \[4, 12\] overlap tensor "a" \(which ends at 8\)/);
    expectRejected(build({ a: f32([2], 0, 8), b: f32([2], 0, 8) }, 8), "overlap", /overlap/);
  });

  it("gaps in the data section", () => {
    expectRejected(build({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, 12), "gap", /tensor "b": .* leave a gap of 4 bytes after tensor "a"/);
    expectRejected(build({ a: f32([1], 4, 8) }, 8), "gap", /tensor "a": .* gap of 4 bytes after the start of the data section/);
  });

  it("a truncated file", () => {
    const whole = build({ a: f32([4], 0, 16), b: f32([4], 16, 32) }, 32);
    expectRejected(whole.slice(0, whole.byteLength - 3), "truncated", /file is truncated: the header describes 32 bytes of tensor data, but only 29 follow the header \(tensor "b" runs past the end\)/);
  });

  it("bytes after the last tensor", () => {
    expectRejected(build({ a: f32([1], 0, 4) }, 6), "trailing-bytes", /2 bytes after the last tensor are not described/);
  });

  it("a tensor named twice", () => {
    const header = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expectRejected(build(header, 8), "duplicate-name", /tensor "w": appears twice in the header/);
  });

  it("a missing file", () => {
    expect(() => readSafetensors(join(scratch, "absent.safetensors"))).toThrow(/absent\.safetensors: cannot open the file \(ENOENT/);
  });
});

describe("firstDuplicateTopLevelKey", () => {
  it("finds repeated top-level keys only", () => {
    expect(firstDuplicateTopLevelKey('{"a":1,"b":{"a":2,"a":3},"c":[{"b":1}]}')).toBeUndefined();
    expect(firstDuplicateTopLevelKey('{"a":{"x":"},\\"a\\":"},"a":2}')).toBe("a");
    expect(firstDuplicateTopLevelKey('{"\\u0061":1,"a":2}')).toBe("a");
    expect(firstDuplicateTopLevelKey('{ "x" : [1, {"y": 2}] , "x" : 3 }')).toBe("x");
  });
});
