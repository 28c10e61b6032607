// Reading and writing safetensors files (the format of Hugging Face checkpoints and of ours).
// Header parsing and validation live in safetensors-header.ts; this module moves the bytes.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { endianness } from "node:os";
import { writeFileAtomic } from "./atomic.js";
import { describeSystemError } from "./errors.js";
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from "./float16.js";
import {
  DTYPE_SIZES,
  LOADABLE_DTYPES,
  type LoadableDtype,
  type SafetensorsHeader,
  SafetensorsError,
  parseHeader,
  parseHeaderLength,
} from "./safetensors-header.js";

export {
  DTYPE_SIZES,
  LOADABLE_DTYPES,
  MAX_HEADER_BYTES,
  SafetensorsError,
  type LoadableDtype,
  type SafetensorsErrorKind,
  type SafetensorsHeader,
  type SafetensorsHeaderEntry,
  type StoredDtype,
} from "./safetensors-header.js";

/**
 * A tensor in memory. Floating-point dtypes are always held as float32 values: F16 and BF16 are
 * widened on read and narrowed (round to nearest even) on write.
 */
export type SafetensorsTensor =
  | { dtype: "F32" | "F16" | "BF16"; shape: number[]; data: Float32Array }
  | { dtype: "I32"; shape: number[]; data: Int32Array }
  | { dtype: "I64"; shape: number[]; data: BigInt64Array };

export interface SafetensorsFile {
  /** Sorted by name. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

// Typed-array views below reinterpret file bytes in the host's byte order; safetensors is little-endian.
if (endianness() !== "LE") {
  throw new Error("runtime/io/safetensors supports little-endian hosts only");
}

/** Where bytes come from: a file (read piecewise, never whole) or a buffer already in memory. */
interface ByteSource {
  label: string;
  size: number;
  /** Exactly `length` bytes at `position`, in a fresh buffer the caller may keep. */
  read(position: number, length: number): Uint8Array;
  close(): void;
}

/**
 * Reads the header of a safetensors file: names, dtypes, shapes and offsets, fully validated
 * against the file size, without reading any tensor data (only the first 8 + N bytes).
 */
export function readSafetensorsHeader(source: string | Uint8Array, label?: string): SafetensorsHeader {
  const bytes = openSource(source, label);
  try {
    return readHeader(bytes);
  } finally {
    bytes.close();
  }
}

/**
 * Reads a whole safetensors file. F16 and BF16 come back as float32 values; dtypes other than
 * F32, F16, BF16, I32 and I64 are rejected. `label` names an in-memory buffer in error messages.
 */
export function readSafetensors(source: string | Uint8Array, label?: string): SafetensorsFile {
  const bytes = openSource(source, label);
  try {
    const header = readHeader(bytes);
    const tensors = new Map<string, SafetensorsTensor>();
    for (const name of [...header.tensors.keys()].sort()) {
      const entry = header.tensors.get(name)!;
      const dtype = entry.dtype;
      if (!isLoadable(dtype)) {
        throw new SafetensorsError(
          "unsupported-dtype",
          `dtype ${dtype} is not supported (supported: ${LOADABLE_DTYPES.join(", ")})`,
          bytes.label,
          name,
        );
      }
      const [begin, end] = entry.dataOffsets;
      // A fresh buffer per tensor: aligned for any typed array, and no 2 GB single allocation.
      const raw = bytes.read(header.dataStart + begin, end - begin);
      tensors.set(name, decodeTensor(dtype, entry.shape, raw));
    }
    return { tensors, metadata: header.metadata };
  } finally {
    bytes.close();
  }
}

function isLoadable(dtype: string): dtype is LoadableDtype {
  return (LOADABLE_DTYPES as readonly string[]).includes(dtype);
}

function decodeTensor(dtype: LoadableDtype, shape: number[], raw: Uint8Array): SafetensorsTensor {
  const buffer = raw.buffer as ArrayBuffer;
  const count = raw.byteLength / DTYPE_SIZES[dtype];
  switch (dtype) {
    case "F32":
      return { dtype, shape, data: new Float32Array(buffer, raw.byteOffset, count) };
    case "F16":
      return { dtype, shape, data: float16ToFloat32(new Uint16Array(buffer, raw.byteOffset, count)) };
    case "BF16":
      return { dtype, shape, data: bfloat16ToFloat32(new Uint16Array(buffer, raw.byteOffset, count)) };
    case "I32":
      return { dtype, shape, data: new Int32Array(buffer, raw.byteOffset, count) };
    case "I64":
      return { dtype, shape, data: new BigInt64Array(buffer, raw.byteOffset, count) };
  }
}

function readHeader(bytes: ByteSource): SafetensorsHeader {
  const headerLength = parseHeaderLength(bytes.read(0, Math.min(8, bytes.size)), bytes.size, bytes.label);
  return parseHeader(bytes.read(8, headerLength), bytes.size, bytes.label);
}

function openSource(source: string | Uint8Array, label?: string): ByteSource {
  if (typeof source !== "string") {
    const name = label ?? "<buffer>";
    return {
      label: name,
      size: source.byteLength,
      read: (position, length) => source.slice(position, position + length),
      close: () => {},
    };
  }
  const name = label ?? source;
  let fd: number;
  let size: number;
  try {
    fd = openSync(source, "r");
  } catch (err) {
    throw new SafetensorsError("io", `cannot open the file (${describeSystemError(err)})`, name);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new Error("not a regular file");
    size = stats.size;
  } catch (err) {
    closeSync(fd);
    throw new SafetensorsError("io", `cannot read the file (${describeSystemError(err)})`, name);
  }
  return {
    label: name,
    size,
    read(position, length) {
      // Callers only ask for ranges already checked against `size`.
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        let n: number;
        try {
          n = readSync(fd, out, done, length - done, position + done);
        } catch (err) {
          throw new SafetensorsError("io", `cannot read the file (${describeSystemError(err)})`, name);
        }
        if (n === 0) {
          throw new SafetensorsError("truncated", `file ended at byte ${position + done} while reading (changed while being read?)`, name);
        }
        done += n;
      }
      return out;
    },
    close: () => closeSync(fd),
  };
}

/** Tensors to write: a Map or a plain object of name -> tensor. */
export type TensorSet = Map<string, SafetensorsTensor> | Record<string, SafetensorsTensor>;

/**
 * Writes tensors as a safetensors file, atomically (temp file + rename). Names are sorted and
 * the header is padded with spaces to a multiple of 8 bytes, so the same tensors always give the
 * same bytes. `metadata` becomes the header's "__metadata__" (string values only).
 */
export function writeSafetensors(path: string, tensors: TensorSet, metadata?: Record<string, string>): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata, path));
}

/** The bytes of a safetensors file holding `tensors` (see writeSafetensors). */
export function encodeSafetensors(
  tensors: TensorSet,
  metadata?: Record<string, string>,
  label = "<buffer>",
): Uint8Array {
  const entries = (tensors instanceof Map ? [...tensors] : Object.entries(tensors)).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string") {
        throw new SafetensorsError("invalid-metadata", `metadata value "${key}" must be a string`, label);
      }
    }
    header.__metadata__ = metadata;
  }
  const payloads: Uint8Array[] = [];
  let offset = 0;
  let previous: string | undefined;
  for (const [name, tensor] of entries) {
    if (name === previous) throw new SafetensorsError("duplicate-name", "appears twice", label, name);
    previous = name;
    const bytes = encodeTensor(name, tensor, label);
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.byteLength] };
    payloads.push(bytes);
    offset += bytes.byteLength;
  }
  let headerText = JSON.stringify(header);
  const headerBytesLength = Buffer.byteLength(headerText, "utf8");
  headerText += " ".repeat((8 - (headerBytesLength % 8)) % 8);
  const headerBytes = Buffer.from(headerText, "utf8");

  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.byteLength;
  for (const bytes of payloads) {
    out.set(bytes, position);
    position += bytes.byteLength;
  }
  return out;
}

const DATA_CLASS: Record<SafetensorsTensor["dtype"], typeof Float32Array | typeof Int32Array | typeof BigInt64Array> = {
  F32: Float32Array,
  F16: Float32Array,
  BF16: Float32Array,
  I32: Int32Array,
  I64: BigInt64Array,
};

function encodeTensor(name: string, tensor: SafetensorsTensor, label: string): Uint8Array {
  const { dtype, shape, data } = tensor;
  if (name === "" || name === "__metadata__") {
    throw new SafetensorsError("invalid-tensor", "is not a valid tensor name", label, name);
  }
  if (!isLoadable(dtype)) {
    throw new SafetensorsError("unsupported-dtype", `cannot write dtype ${String(dtype)} (supported: ${LOADABLE_DTYPES.join(", ")})`, label, name);
  }
  const expectedClass = DATA_CLASS[dtype];
  if (!(data instanceof expectedClass)) {
    throw new SafetensorsError("invalid-tensor", `dtype ${dtype} needs its data as a ${expectedClass.name}`, label, name);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError("invalid-shape", `shape must be a list of non-negative integers, found ${JSON.stringify(shape)}`, label, name);
  }
  const elements = shape.reduce((n, d) => n * d, 1);
  if (elements !== data.length) {
    throw new SafetensorsError(
      "size-mismatch",
      `shape [${shape.join(", ")}] has ${elements} elements, but the data has ${data.length}`,
      label,
      name,
    );
  }
  if (dtype === "F16") return asBytes(float32ToFloat16(data as Float32Array));
  if (dtype === "BF16") return asBytes(float32ToBfloat16(data as Float32Array));
  return asBytes(data);
}

function asBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
