// Parsing and validating the header of a safetensors file. The layout is:
//   8 bytes   N, the header length (little-endian unsigned 64-bit)
//   N bytes   a JSON object: name -> {dtype, shape, data_offsets: [begin, end]}, plus an optional
//             "__metadata__" object of string -> string; padded with trailing spaces
//   the rest  the data section: each tensor's bytes at [begin, end), row-major, little-endian
// Files come from strangers, so everything is checked against the real file size before any
// allocation depends on it, and each problem gets its own error naming the file and the tensor.
import { IoError } from "./errors.js";

/** The dtypes of the safetensors format, with their sizes in bytes. */
export const DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

/** Any dtype the format defines. Only `LoadableDtype`s can be read into memory by this module. */
export type StoredDtype = keyof typeof DTYPE_SIZES;
/** The dtypes `readSafetensors` loads: floats come back as Float32Array, I32/I64 as is. */
export type LoadableDtype = "F32" | "F16" | "BF16" | "I32" | "I64";
export const LOADABLE_DTYPES: readonly LoadableDtype[] = ["F32", "F16", "BF16", "I32", "I64"];

/** The reference implementation refuses headers above 100 MB; so do we, before reading them. */
export const MAX_HEADER_BYTES = 100_000_000;

/** What makes a safetensors file invalid; tests and callers can branch on it. */
export type SafetensorsErrorKind =
  | "io"
  | "too-short"
  | "header-too-large"
  | "header-past-end"
  | "invalid-header"
  | "invalid-metadata"
  | "duplicate-name"
  | "unknown-dtype"
  | "unsupported-dtype"
  | "invalid-shape"
  | "invalid-offsets"
  | "offsets-out-of-range"
  | "size-mismatch"
  | "overlap"
  | "gap"
  | "truncated"
  | "trailing-bytes"
  | "invalid-tensor";

/** A problem with a safetensors file (or with tensors given to the writer). */
export class SafetensorsError extends IoError {
  constructor(
    readonly kind: SafetensorsErrorKind,
    message: string,
    override readonly file: string,
    readonly tensor?: string,
  ) {
    super(tensor === undefined ? message : `tensor "${tensor}": ${message}`, file);
    this.name = "SafetensorsError";
  }
}

/** One tensor as the header describes it. Offsets are relative to the start of the data section. */
export interface SafetensorsHeaderEntry {
  dtype: StoredDtype;
  shape: number[];
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** In file order of the header's JSON. */
  tensors: Map<string, SafetensorsHeaderEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file (8 + header length). */
  dataStart: number;
  fileSize: number;
}

/**
 * Reads and checks the 8-byte length prefix. Returns the header length, guaranteed to fit in the
 * file and to be at most MAX_HEADER_BYTES, so the caller may allocate it.
 */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw new SafetensorsError(
      "too-short",
      `not a safetensors file: ${fileSize} bytes, expected at least 8 (the header length)`,
      file,
    );
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      "header-too-large",
      `header length ${length} bytes exceeds the limit of ${MAX_HEADER_BYTES} bytes (corrupt or not a safetensors file)`,
      file,
    );
  }
  const headerLength = Number(length);
  if (8 + headerLength > fileSize) {
    throw new SafetensorsError(
      "header-past-end",
      `header length ${headerLength} bytes runs past the end of the file (${fileSize} bytes; truncated or corrupt)`,
      file,
    );
  }
  return headerLength;
}

/** Parses and validates the JSON header against the size of the file it came from. */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const dataStart = 8 + headerBytes.byteLength;
  const dataSize = fileSize - dataStart;
  const json = decodeHeaderText(headerBytes, file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new SafetensorsError("invalid-header", `header is not valid JSON (${(err as Error).message})`, file);
  }
  if (!isPlainObject(parsed)) {
    throw new SafetensorsError("invalid-header", `header must be a JSON object, found ${describeJson(parsed)}`, file);
  }
  // JSON.parse keeps the last of two equal keys; a file that names a tensor twice is ambiguous.
  const duplicate = firstDuplicateTopLevelKey(json);
  if (duplicate !== undefined) {
    throw new SafetensorsError("duplicate-name", "appears twice in the header", file, duplicate);
  }

  let metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsHeaderEntry>();
  for (const [name, value] of Object.entries(parsed)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(value, file);
      continue;
    }
    tensors.set(name, parseEntry(name, value, dataSize, file));
  }
  checkCoverage(tensors, dataSize, file);
  return { tensors, metadata, dataStart, fileSize };
}

function decodeHeaderText(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SafetensorsError("invalid-header", "header is not valid UTF-8 text", file);
  }
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new SafetensorsError("invalid-metadata", `"__metadata__" must be an object, found ${describeJson(value)}`, file);
  }
  const metadata: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string") {
      throw new SafetensorsError(
        "invalid-metadata",
        `"__metadata__" values must be strings, but "${key}" is ${describeJson(item)}`,
        file,
      );
    }
    metadata[key] = item;
  }
  return metadata;
}

function parseEntry(name: string, value: unknown, dataSize: number, file: string): SafetensorsHeaderEntry {
  if (!isPlainObject(value)) {
    throw new SafetensorsError(
      "invalid-tensor",
      `expected {"dtype", "shape", "data_offsets"}, found ${describeJson(value)}`,
      file,
      name,
    );
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_SIZES, dtype)) {
    throw new SafetensorsError(
      "unknown-dtype",
      `unknown dtype ${JSON.stringify(dtype)} (the format defines ${Object.keys(DTYPE_SIZES).join(", ")})`,
      file,
      name,
    );
  }
  const storedDtype = dtype as StoredDtype;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(
      "invalid-shape",
      `shape must be a list of non-negative integers, found ${JSON.stringify(shape)}`,
      file,
      name,
    );
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    throw new SafetensorsError(
      "invalid-offsets",
      `data_offsets must be [begin, end] with 0 <= begin <= end, found ${JSON.stringify(offsets)}`,
      file,
      name,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > dataSize) {
    throw new SafetensorsError(
      "offsets-out-of-range",
      `data_offsets [${begin}, ${end}] start past the end of the data section (${dataSize} bytes)`,
      file,
      name,
    );
  }
  // The element count can overflow a double's integers for absurd shapes: compare with BigInt.
  const elements = (shape as number[]).reduce((n, d) => n * BigInt(d), 1n);
  const expectedBytes = elements * BigInt(DTYPE_SIZES[storedDtype]);
  if (expectedBytes !== BigInt(end - begin)) {
    throw new SafetensorsError(
      "size-mismatch",
      `shape [${(shape as number[]).join(", ")}] of ${storedDtype} needs ${expectedBytes} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`,
      file,
      name,
    );
  }
  return { dtype: storedDtype, shape: [...(shape as number[])], dataOffsets: [begin, end] };
}

/** The format requires the tensors to tile the data section exactly: no overlap, no gap, no tail. */
function checkCoverage(tensors: Map<string, SafetensorsHeaderEntry>, dataSize: number, file: string): void {
  const byOffset = [...tensors].sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let covered = 0;
  let previous: string | undefined;
  for (const [name, { dataOffsets: [begin, end] }] of byOffset) {
    if (begin < covered) {
      throw new SafetensorsError(
        "overlap",
        `data_offsets [${begin}, ${end}] overlap tensor "${previous}" (which ends at ${covered})`,
        file,
        name,
      );
    }
    if (begin > covered) {
      const after = previous === undefined ? "the start of the data section" : `tensor "${previous}" (which ends at ${covered})`;
      throw new SafetensorsError(
        "gap",
        `data_offsets [${begin}, ${end}] leave a gap of ${begin - covered} bytes after ${after}`,
        file,
        name,
      );
    }
    covered = end;
    previous = name;
  }
  if (covered > dataSize) {
    throw new SafetensorsError(
      "truncated",
      `file is truncated: the header describes ${covered} bytes of tensor data, but only ${dataSize} follow the header ` +
        `(tensor "${previous}" runs past the end)`,
      file,
    );
  }
  if (covered < dataSize) {
    throw new SafetensorsError(
      "trailing-bytes",
      `${dataSize - covered} bytes after the last tensor are not described by the header (corrupt file)`,
      file,
    );
  }
}

/**
 * The first key that occurs twice at the top level of a JSON object text (already known to be
 * valid JSON), or undefined. Nested objects may repeat keys of their parents: only depth 1 counts.
 */
export function firstDuplicateTopLevelKey(json: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      const start = i;
      for (i++; json[i] !== '"'; i++) if (json[i] === "\\") i++;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(json.slice(start, i + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = c === "{" && depth === 1;
    } else if (c === "}" || c === "]") {
      depth--;
    } else if (c === "," && depth === 1) {
      expectKey = true;
    }
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describeJson(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? text.slice(0, 40) + "…" : text}`;
}
