// The JSON tensor format used for named inputs and outputs (`vlmc run --inputs in.json -o out.json`):
//   {"tensors": {name: {"shape": [...], "dtype": "float32"|"int32"|"int64", "data": [flat, row-major]}}}
// Other keys ("meta", a tensor's "description" or "layout") are allowed and ignored on read.
// JSON has no NaN or infinities: float32 data may hold the strings "NaN", "Infinity", "-Infinity".
// JSON numbers are doubles: int64 values beyond ±(2^53 - 1) are written, and may be read, as decimal strings.
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "./atomic.js";
import { IoError, describeSystemError } from "./errors.js";

export type JsonTensorDtype = "float32" | "int32" | "int64";
export const JSON_TENSOR_DTYPES: readonly JsonTensorDtype[] = ["float32", "int32", "int64"];

export type JsonTensor =
  | { dtype: "float32"; shape: number[]; data: Float32Array }
  | { dtype: "int32"; shape: number[]; data: Int32Array }
  | { dtype: "int64"; shape: number[]; data: BigInt64Array };

/** A problem with a JSON tensor file, naming the file and, where there is one, the tensor. */
export class TensorJsonError extends IoError {
  constructor(
    message: string,
    file: string,
    readonly tensor?: string,
  ) {
    super(tensor === undefined ? message : `tensor "${tensor}": ${message}`, file);
    this.name = "TensorJsonError";
  }
}

/** Reads a JSON tensor file. Tensors keep the file's order. */
export function readTensorJson(path: string): Map<string, JsonTensor> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new TensorJsonError(`cannot read the file (${describeSystemError(err)})`, path);
  }
  return parseTensorJson(text, path);
}

/** Parses JSON tensor text; `file` names it in error messages. */
export function parseTensorJson(text: string, file: string): Map<string, JsonTensor> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new TensorJsonError(`not valid JSON (${(err as Error).message})`, file);
  }
  if (!isPlainObject(parsed) || !isPlainObject(parsed.tensors)) {
    throw new TensorJsonError(`expected an object {"tensors": {name: {shape, dtype, data}}}, found ${describe(parsed)}`, file);
  }
  const tensors = new Map<string, JsonTensor>();
  for (const [name, value] of Object.entries(parsed.tensors)) {
    tensors.set(name, parseTensor(value, file, name));
  }
  return tensors;
}

function parseTensor(value: unknown, file: string, name: string): JsonTensor {
  const fail = (message: string): never => {
    throw new TensorJsonError(message, file, name);
  };
  if (!isPlainObject(value)) return fail(`expected an object {shape, dtype, data}, found ${describe(value)}`);
  const { shape, dtype, data } = value;
  if (typeof dtype !== "string" || !(JSON_TENSOR_DTYPES as readonly string[]).includes(dtype)) {
    return fail(`dtype must be one of ${JSON_TENSOR_DTYPES.map((d) => `"${d}"`).join(", ")}, found ${describe(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return fail(`shape must be a list of non-negative integers, found ${JSON.stringify(shape) ?? "nothing"}`);
  }
  if (!Array.isArray(data)) return fail(`data must be a flat list of numbers, found ${describe(data)}`);
  const elements = (shape as number[]).reduce((n, d) => n * d, 1);
  if (data.length !== elements) {
    const nested = data.some(Array.isArray) ? " (data must be flat, in row-major order, not nested lists)" : "";
    return fail(`shape [${shape.join(", ")}] has ${elements} elements, but data has ${data.length}${nested}`);
  }
  const badValue = (index: number, expected: string): never =>
    fail(`data[${index}] must be ${expected}, found ${describe(data[index])}`);

  switch (dtype as JsonTensorDtype) {
    case "float32": {
      const out = new Float32Array(elements);
      for (let i = 0; i < elements; i++) {
        const v = data[i];
        const number = typeof v === "number" ? v : typeof v === "string" ? NON_FINITE.get(v) : undefined;
        if (number === undefined) return badValue(i, 'a number (or "NaN", "Infinity", "-Infinity")');
        out[i] = number;
        if (Number.isFinite(number) && !Number.isFinite(out[i])) return badValue(i, "within the float32 range");
      }
      return { dtype: "float32", shape: [...shape], data: out };
    }
    case "int32": {
      const out = new Int32Array(elements);
      for (let i = 0; i < elements; i++) {
        const v = data[i];
        if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) return badValue(i, "an int32 integer");
        out[i] = v;
      }
      return { dtype: "int32", shape: [...shape], data: out };
    }
    case "int64": {
      const out = new BigInt64Array(elements);
      for (let i = 0; i < elements; i++) {
        const v = data[i];
        const exact = parseInt64(v);
        if (exact === undefined) return badValue(i, "an int64 integer (a number up to ±(2^53 - 1), or a decimal string)");
        out[i] = exact;
      }
      return { dtype: "int64", shape: [...shape], data: out };
    }
  }
}

const NON_FINITE = new Map([
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
]);

function parseInt64(v: unknown): bigint | undefined {
  let value: bigint;
  if (typeof v === "number" && Number.isSafeInteger(v)) value = BigInt(v);
  else if (typeof v === "string" && /^-?\d{1,19}$/.test(v)) value = BigInt(v);
  else return undefined;
  return value === BigInt.asIntN(64, value) ? value : undefined;
}

/** Tensors to write: a Map or a plain object of name -> tensor. */
export type JsonTensorSet = Map<string, JsonTensor> | Record<string, JsonTensor>;

/**
 * Writes a JSON tensor file atomically, one tensor per line, in the given order. Float32 values are
 * written as the shortest decimal that reads back as the same float32. `meta`, if given, is
 * written as the top-level "meta" key.
 */
export function writeTensorJson(path: string, tensors: JsonTensorSet, meta?: unknown): void {
  writeFileAtomic(path, encodeTensorJson(tensors, meta, path));
}

/** The text writeTensorJson writes. */
export function encodeTensorJson(tensors: JsonTensorSet, meta?: unknown, file = "<output>"): string {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const lines = entries.map(([name, tensor]) => {
    const { dtype, shape, data } = tensor;
    const elements = shape.reduce((n, d) => n * d, 1);
    if (!(JSON_TENSOR_DTYPES as readonly string[]).includes(dtype)) {
      throw new TensorJsonError(`cannot write dtype ${String(dtype)}`, file, name);
    }
    if (elements !== data.length) {
      throw new TensorJsonError(`shape [${shape.join(", ")}] has ${elements} elements, but data has ${data.length}`, file, name);
    }
    const values = Array.from(data as ArrayLike<number | bigint>, (v) => encodeValue(dtype, v)).join(",");
    return `  ${JSON.stringify(name)}: {"shape":${JSON.stringify(shape)},"dtype":"${dtype}","data":[${values}]}`;
  });
  const head = meta === undefined ? "" : ` "meta": ${JSON.stringify(meta)},\n`;
  return `{\n${head} "tensors": {\n${lines.join(",\n")}\n }\n}\n`;
}

function encodeValue(dtype: JsonTensorDtype, v: number | bigint): string {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? String(v) : `"${v}"`;
  if (dtype !== "float32") return String(v);
  return shortestFloat32(v);
}

/** The shortest decimal that parses back to the same float32 (JSON has no NaN: those become strings). */
export function shortestFloat32(value: number): string {
  if (Number.isNaN(value)) return '"NaN"';
  if (value === Infinity) return '"Infinity"';
  if (value === -Infinity) return '"-Infinity"';
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const target = Math.fround(value);
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(target.toPrecision(digits));
    if (Math.fround(candidate) === target) return String(candidate);
  }
  // Nine significant digits always identify a float32.
  return String(Number(target.toPrecision(9)));
}

/**
 * Integer data as an Int32Array (what tfjs takes for ids and masks), checking that int64 values
 * fit. `what` names the tensor in the error.
 */
export function toInt32Data(data: Int32Array | BigInt64Array, what: string): Int32Array {
  if (data instanceof Int32Array) return data;
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < -(2n ** 31n) || v >= 2n ** 31n) {
      throw new IoError(`value ${v} at index ${i} does not fit in int32`, what);
    }
    out[i] = Number(v);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? text.slice(0, 40) + "…" : text}`;
}
