// Training checkpoints. A checkpoint is a directory holding
//   weights.safetensors    the model's parameters, F32, keyed by IR parameter name
//   optimizer.safetensors  the optimizer's state tensors (e.g. "adam.m.<param>"), when there are any
//   checkpoint.json        the sidecar: the size and SHA-256 of each file above, plus the trainer's
//                          own JSON (spec hash, step, epoch, optimizer settings, RNG state, ...)
// The sidecar is removed first and written last, each file atomically, so a checkpoint is visible
// only once complete; its hashes catch any file that changed afterwards (e.g. a save interrupted
// between two files, or a weights file copied in by hand).
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";
import { IoError, describeSystemError } from "./errors.js";
import { type SafetensorsTensor, encodeSafetensors, readSafetensors, readSafetensorsHeader } from "./safetensors.js";

export const CHECKPOINT_FORMAT = "vlmc.checkpoint/1";
export const WEIGHTS_FILE = "weights.safetensors";
export const OPTIMIZER_FILE = "optimizer.safetensors";
export const SIDECAR_FILE = "checkpoint.json";

/** A float tensor of a checkpoint (parameters and optimizer state are all float32). */
export interface CheckpointTensor {
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint {
  /** Parameter name (the IR's `IRParam.name`) -> value. */
  params: Map<string, CheckpointTensor>;
  /** Optimizer state tensors by name, e.g. "adam.m.<param>". Absent when the optimizer keeps none. */
  optimizerState?: Map<string, CheckpointTensor>;
  /** Whatever the trainer needs to resume (must be JSON-serialisable): spec hash, step, epoch, seed, ... */
  meta: Record<string, unknown>;
}

/** A checkpoint directory that is missing, incomplete, modified or malformed. */
export class CheckpointError extends IoError {
  constructor(message: string, file: string) {
    super(message, file);
    this.name = "CheckpointError";
  }
}

interface Sidecar {
  format: typeof CHECKPOINT_FORMAT;
  /** File name -> its size and hash at save time. */
  files: Record<string, { bytes: number; sha256: string }>;
  meta: Record<string, unknown>;
}

/** True when `dir` holds a complete checkpoint's sidecar (the contents are checked on load). */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, SIDECAR_FILE));
}

/** Saves a checkpoint into `dir` (created if needed), replacing any checkpoint already there. */
export function saveCheckpoint(dir: string, checkpoint: Checkpoint): void {
  let metaJson: unknown;
  try {
    metaJson = JSON.parse(JSON.stringify(checkpoint.meta));
  } catch (err) {
    throw new CheckpointError(`checkpoint meta is not JSON-serialisable (${(err as Error).message})`, join(dir, SIDECAR_FILE));
  }
  const weights = encodeSafetensors(asF32(checkpoint.params), { producer: "vlmc" }, join(dir, WEIGHTS_FILE));
  const optimizer =
    checkpoint.optimizerState === undefined
      ? undefined
      : encodeSafetensors(asF32(checkpoint.optimizerState), { producer: "vlmc" }, join(dir, OPTIMIZER_FILE));

  // From here until the new sidecar lands, the directory holds no visible checkpoint.
  removeIfPresent(join(dir, SIDECAR_FILE));
  const files: Sidecar["files"] = {};
  writeFileAtomic(join(dir, WEIGHTS_FILE), weights);
  files[WEIGHTS_FILE] = fingerprint(weights);
  if (optimizer === undefined) {
    // A stale optimizer file from an earlier save must not be mistaken for this one's.
    removeIfPresent(join(dir, OPTIMIZER_FILE));
  } else {
    writeFileAtomic(join(dir, OPTIMIZER_FILE), optimizer);
    files[OPTIMIZER_FILE] = fingerprint(optimizer);
  }
  const sidecar: Sidecar = { format: CHECKPOINT_FORMAT, files, meta: metaJson as Record<string, unknown> };
  writeFileAtomic(join(dir, SIDECAR_FILE), JSON.stringify(sidecar, null, 2) + "\n");
}

/** Loads the checkpoint in `dir`, checking that every file is the one its sidecar describes. */
export function loadCheckpoint(dir: string): Checkpoint {
  const sidecarPath = join(dir, SIDECAR_FILE);
  if (!existsSync(sidecarPath)) {
    throw new CheckpointError(
      `no checkpoint here (${SIDECAR_FILE} is missing; a save that was interrupted leaves none)`,
      dir,
    );
  }
  const sidecar = readSidecar(sidecarPath);
  if (!sidecar.files[WEIGHTS_FILE]) {
    throw new CheckpointError(`"files" does not list ${WEIGHTS_FILE}`, sidecarPath);
  }
  const params = readCheckpointTensors(dir, WEIGHTS_FILE, sidecar);
  const optimizerState = sidecar.files[OPTIMIZER_FILE] ? readCheckpointTensors(dir, OPTIMIZER_FILE, sidecar) : undefined;
  return optimizerState === undefined ? { params, meta: sidecar.meta } : { params, optimizerState, meta: sidecar.meta };
}

function readSidecar(path: string): Sidecar {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const reason = err instanceof SyntaxError ? `not valid JSON (${err.message})` : describeSystemError(err);
    throw new CheckpointError(`cannot read the checkpoint sidecar: ${reason}`, path);
  }
  const sidecar = parsed as Partial<Sidecar> | null;
  if (typeof sidecar !== "object" || sidecar === null || sidecar.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`not a vlmc checkpoint sidecar (expected "format": "${CHECKPOINT_FORMAT}")`, path);
  }
  const files = sidecar.files;
  const validFiles =
    typeof files === "object" &&
    files !== null &&
    Object.values(files).every(
      (f) => typeof f === "object" && f !== null && Number.isSafeInteger(f.bytes) && typeof f.sha256 === "string",
    );
  if (!validFiles) throw new CheckpointError(`"files" must map file names to {bytes, sha256}`, path);
  if (typeof sidecar.meta !== "object" || sidecar.meta === null || Array.isArray(sidecar.meta)) {
    throw new CheckpointError(`"meta" must be an object`, path);
  }
  return sidecar as Sidecar;
}

function readCheckpointTensors(dir: string, name: string, sidecar: Sidecar): Map<string, CheckpointTensor> {
  const path = join(dir, name);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CheckpointError(`cannot read a file of the checkpoint (${describeSystemError(err)})`, path);
  }
  const expected = sidecar.files[name]!;
  const actual = fingerprint(bytes);
  if (actual.bytes !== expected.bytes || actual.sha256 !== expected.sha256) {
    throw new CheckpointError(
      `does not match ${SIDECAR_FILE} (the file changed after the checkpoint was saved, or a save was interrupted)`,
      path,
    );
  }
  const tensors = new Map<string, CheckpointTensor>();
  for (const [tensorName, tensor] of readSafetensors(bytes, path).tensors) {
    if (tensor.dtype === "I32" || tensor.dtype === "I64") {
      throw new CheckpointError(`tensor "${tensorName}" has dtype ${tensor.dtype}, expected a float dtype`, path);
    }
    tensors.set(tensorName, { shape: tensor.shape, data: tensor.data });
  }
  return tensors;
}

/** One mismatch between the weights a model needs and the ones a file holds. */
export interface WeightsMismatch {
  missing: { name: string; shape: number[] }[];
  unexpected: { name: string; shape: number[] }[];
  wrongShape: { name: string; expected: number[]; found: number[] }[];
  wrongDtype: { name: string; dtype: string }[];
}

/** The weights in a file do not fit the model: lists every problem at once. */
export class WeightsMismatchError extends IoError {
  constructor(
    override readonly file: string,
    readonly mismatch: WeightsMismatch,
  ) {
    super(describeMismatch(mismatch), file);
    this.name = "WeightsMismatchError";
  }
}

/**
 * Reads the float32 value of each expected parameter from a safetensors file (F32, or F16/BF16
 * widened). Every expected name must be present with exactly its shape and no other tensor may be
 * present; otherwise a WeightsMismatchError lists all missing, unexpected and wrongly shaped
 * tensors. Names and shapes are checked from the header before any tensor data is read.
 */
export function loadWeightsInto(
  expected: readonly { name: string; shape: readonly number[] }[],
  file: string,
): Map<string, Float32Array> {
  const header = readSafetensorsHeader(file);
  const mismatch: WeightsMismatch = { missing: [], unexpected: [], wrongShape: [], wrongDtype: [] };
  const expectedNames = new Set<string>();
  for (const { name, shape } of expected) {
    expectedNames.add(name);
    const entry = header.tensors.get(name);
    if (entry === undefined) mismatch.missing.push({ name, shape: [...shape] });
    else if (!sameShape(entry.shape, shape)) mismatch.wrongShape.push({ name, expected: [...shape], found: entry.shape });
    else if (entry.dtype !== "F32" && entry.dtype !== "F16" && entry.dtype !== "BF16") {
      mismatch.wrongDtype.push({ name, dtype: entry.dtype });
    }
  }
  for (const [name, entry] of header.tensors) {
    if (!expectedNames.has(name)) mismatch.unexpected.push({ name, shape: entry.shape });
  }
  const problems = mismatch.missing.length + mismatch.unexpected.length + mismatch.wrongShape.length + mismatch.wrongDtype.length;
  if (problems > 0) throw new WeightsMismatchError(file, mismatch);

  const { tensors } = readSafetensors(file);
  const values = new Map<string, Float32Array>();
  for (const { name } of expected) {
    const tensor = tensors.get(name);
    if (tensor === undefined || !(tensor.data instanceof Float32Array)) {
      throw new CheckpointError(`tensor "${name}" changed while the file was being read`, file);
    }
    values.set(name, tensor.data);
  }
  return values;
}

function describeMismatch(m: WeightsMismatch): string {
  const counts = [
    m.missing.length && `${m.missing.length} missing`,
    m.unexpected.length && `${m.unexpected.length} unexpected`,
    m.wrongShape.length && `${m.wrongShape.length} with the wrong shape`,
    m.wrongDtype.length && `${m.wrongDtype.length} with a non-float dtype`,
  ].filter(Boolean);
  const lines = [
    ...m.missing.map((t) => `  missing:     ${t.name} ${formatShape(t.shape)}`),
    ...m.unexpected.map((t) => `  unexpected:  ${t.name} ${formatShape(t.shape)}`),
    ...m.wrongShape.map((t) => `  wrong shape: ${t.name}: the model needs ${formatShape(t.expected)}, the file has ${formatShape(t.found)}`),
    ...m.wrongDtype.map((t) => `  wrong dtype: ${t.name}: ${t.dtype}, expected F32, F16 or BF16`),
  ];
  return `the weights do not match the model (${counts.join(", ")}):\n${lines.join("\n")}`;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function asF32(tensors: Map<string, CheckpointTensor>): Map<string, SafetensorsTensor> {
  const out = new Map<string, SafetensorsTensor>();
  for (const [name, { shape, data }] of tensors) out.set(name, { dtype: "F32", shape, data });
  return out;
}

function fingerprint(bytes: Uint8Array): { bytes: number; sha256: string } {
  return { bytes: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") };
}

function removeIfPresent(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch (err) {
    throw new CheckpointError(`cannot remove the file (${describeSystemError(err)})`, path);
  }
}
