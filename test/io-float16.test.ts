import { describe, expect, it } from "vitest";
import {
  bfloat16ToFloat32,
  float16BitsToNumber,
  float16ToFloat32,
  numberToBfloat16Bits,
  numberToFloat16Bits,
} from "../runtime/io/float16.js";

// Expected values worked out by hand from the bit layouts (F16: 1-5-10, bias 15; BF16: 1-8-7, bias 127).
const F16_CASES: [bits: number, value: number][] = [
  [0x0000, 0],
  [0x8000, -0],
  [0x3c00, 1],
  [0xc000, -2],
  [0x3555, 0.333251953125], // (1 + 341/1024) * 2^-2
  [0x7bff, 65504], // largest finite
  [0x0001, 2 ** -24], // smallest subnormal
  [0x03ff, 1023 * 2 ** -24], // largest subnormal
  [0x0400, 2 ** -14], // smallest normal
  [0x8001, -(2 ** -24)],
  [0x7c00, Infinity],
  [0xfc00, -Infinity],
];

const BF16_CASES: [bits: number, value: number][] = [
  [0x0000, 0],
  [0x8000, -0],
  [0x3f80, 1],
  [0xc000, -2],
  [0x4049, 3.140625], // (1 + 73/128) * 2
  [0x7f7f, (1 + 127 / 128) * 2 ** 127], // largest finite
  [0x0001, 2 ** -133], // smallest subnormal: float32 bits 0x00010000
  [0x0080, 2 ** -126], // smallest normal
  [0x7f80, Infinity],
  [0xff80, -Infinity],
];

describe("F16 -> float32", () => {
  it.each(F16_CASES)("bits %i", (bits, value) => {
    expect(Object.is(float16BitsToNumber(bits), value)).toBe(true);
    expect(Object.is(float16ToFloat32(new Uint16Array([bits]))[0], value)).toBe(true);
  });

  it("gives NaN for every NaN pattern", () => {
    for (const bits of [0x7e00, 0x7c01, 0xfe00, 0x7fff]) {
      expect(float16BitsToNumber(bits)).toBeNaN();
    }
  });
});

describe("BF16 -> float32", () => {
  it.each(BF16_CASES)("bits %i", (bits, value) => {
    expect(Object.is(bfloat16ToFloat32(new Uint16Array([bits]))[0], value)).toBe(true);
  });

  it("gives NaN for NaN patterns", () => {
    expect(bfloat16ToFloat32(new Uint16Array([0x7fc0, 0xff81]))).toEqual(new Float32Array([NaN, NaN]));
  });
});

describe("float32 -> F16 (round to nearest, ties to even)", () => {
  it.each([
    [1, 0x3c00],
    [-0, 0x8000],
    [65504, 0x7bff],
    [65519, 0x7bff], // below the midpoint to 65536
    [65520, 0x7c00], // tie between 65504 (odd) and 65536 (overflow): even side is Infinity
    [1e9, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000], // tie between 0 (even) and the smallest subnormal
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between subnormals 1 and 2
    [2 ** -14 - 2 ** -25, 0x0400], // tie between the largest subnormal (odd) and the smallest normal
    [1 + 2 ** -11, 0x3c00], // tie: stays at even 0x3c00
    [1 + 3 * 2 ** -11, 0x3c02], // tie: 0x3c01 is odd, goes up
    [1e-10, 0x0000],
  ])("%s", (value, bits) => {
    expect(numberToFloat16Bits(value)).toBe(bits);
  });

  it("keeps NaN a NaN", () => {
    expect(float16BitsToNumber(numberToFloat16Bits(NaN))).toBeNaN();
  });

  it("round-trips every non-NaN F16 bit pattern", () => {
    const wrong: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = float16BitsToNumber(bits);
      if (!Number.isNaN(value) && numberToFloat16Bits(value) !== bits) wrong.push(bits);
    }
    expect(wrong).toEqual([]);
  });
});

describe("float32 -> BF16 (round to nearest, ties to even)", () => {
  it.each([
    [1, 0x3f80],
    [-0, 0x8000],
    [1 + 2 ** -8, 0x3f80], // tie: stays at even
    [1 + 3 * 2 ** -8, 0x3f82], // tie: 0x3f81 is odd, goes up
    [3.4028234663852886e38, 0x7f80], // float32 max rounds up to Infinity
    [-Infinity, 0xff80],
    [2 ** -133, 0x0001],
  ])("%s", (value, bits) => {
    expect(numberToBfloat16Bits(value)).toBe(bits);
  });

  it("keeps NaN a NaN", () => {
    expect(bfloat16ToFloat32(new Uint16Array([numberToBfloat16Bits(NaN)]))[0]).toBeNaN();
  });

  it("round-trips every non-NaN BF16 bit pattern", () => {
    const all = new Uint16Array(0x10000).map((_, i) => i);
    const values = bfloat16ToFloat32(all);
    const wrong: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      if (!Number.isNaN(values[bits]) && numberToBfloat16Bits(values[bits]!) !== bits) wrong.push(bits);
    }
    expect(wrong).toEqual([]);
  });
});
