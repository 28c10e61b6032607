import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type Checkpoint,
  CheckpointError,
  WeightsMismatchError,
  hasCheckpoint,
  loadCheckpoint,
  loadWeightsInto,
  saveCheckpoint,
} from "../runtime/io/checkpoint.js";
import { writeSafetensors } from "../runtime/io/safetensors.js";

// Lets a test make one file of a save fail, as a full disk would.
const injected = vi.hoisted(() => ({ failWritesTo: undefined as string | undefined }));
vi.mock("../runtime/io/atomic.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../runtime/io/atomic.js")>();
  return {
    writeFileAtomic(path: string, data: string | Uint8Array) {
      if (injected.failWritesTo !== undefined && path.endsWith(injected.failWritesTo)) {
        throw new Error(`injected failure writing ${path}`);
      }
      actual.writeFileAtomic(path, data);
    },
  };
});

const root = mkdtempSync(join(tmpdir(), "vlmc-io-checkpoint-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dir: string;
let counter = 0;
beforeEach(() => {
  dir = join(root, `run-${counter++}`);
  injected.failWritesTo = undefined;
});

/** Deterministic pseudo-random floats (a fixed-seed LCG), so the test data is not all zeros. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

function sample(step: number): Checkpoint {
  return {
    params: new Map([
      ["encoder.dense.kernel", { shape: [3, 4], data: values(12, step) }],
      ["encoder.dense.bias", { shape: [4], data: values(4, step + 1) }],
      ["logit_scale", { shape: [], data: new Float32Array([2.5]) }],
    ]),
    optimizerState: new Map([
      ["adam.m.encoder.dense.kernel", { shape: [3, 4], data: values(12, step + 2) }],
      ["adam.v.encoder.dense.kernel", { shape: [3, 4], data: values(12, step + 3) }],
    ]),
    meta: { specHash: "abc123", model: "Tiny", step, epoch: 1, optimizer: { name: "adam", lr: 0.001, betas: [0.9, 0.999] }, rng: { seed: 7, state: [1, 2, 3, 4] }, dataPosition: 96 },
  };
}

describe("checkpoints", () => {
  it("round-trips parameters, optimizer state and meta", () => {
    const saved = sample(10);
    expect(hasCheckpoint(dir)).toBe(false);
    saveCheckpoint(dir, saved);
    expect(hasCheckpoint(dir)).toBe(true);
    const loaded = loadCheckpoint(dir);
    expect(loaded.params).toEqual(saved.params);
    expect(loaded.optimizerState).toEqual(saved.optimizerState);
    expect(loaded.meta).toEqual(saved.meta);
  });

  it("overwrites an earlier checkpoint, dropping its optimizer file when there is no state", () => {
    saveCheckpoint(dir, sample(1));
    const { optimizerState: _dropped, ...stateless } = sample(2);
    saveCheckpoint(dir, stateless);
    expect(existsSync(join(dir, "optimizer.safetensors"))).toBe(false);
    const loaded = loadCheckpoint(dir);
    expect(loaded.meta.step).toBe(2);
    expect(loaded.optimizerState).toBeUndefined();
    expect(loaded.params.get("encoder.dense.kernel")!.data).toEqual(values(12, 2));
  });

  it("says clearly when there is no checkpoint", () => {
    expect(() => loadCheckpoint(dir)).toThrow(CheckpointError);
    expect(() => loadCheckpoint(dir)).toThrow(/no checkpoint here \(checkpoint\.json is missing/);
  });

  it("refuses a weights file that is not the one the sidecar describes (an interrupted save)", () => {
    saveCheckpoint(dir, sample(1));
    // As if a later save had replaced the weights and died before writing its sidecar.
    writeSafetensors(join(dir, "weights.safetensors"), { x: { dtype: "F32", shape: [1], data: new Float32Array([1]) } });
    expect(() => loadCheckpoint(dir)).toThrow(/weights\.safetensors: does not match checkpoint\.json \(the file changed after the checkpoint was saved, or a save was interrupted\)/);
  });

  it("reports a missing data file and a corrupt sidecar", () => {
    saveCheckpoint(dir, sample(1));
    rmSync(join(dir, "optimizer.safetensors"));
    expect(() => loadCheckpoint(dir)).toThrow(/optimizer\.safetensors: cannot read a file of the checkpoint \(ENOENT/);
    writeFileSync(join(dir, "checkpoint.json"), "{ not json");
    expect(() => loadCheckpoint(dir)).toThrow(/checkpoint\.json: cannot read the checkpoint sidecar: not valid JSON/);
    writeFileSync(join(dir, "checkpoint.json"), JSON.stringify({ format: "something-else" }));
    expect(() => loadCheckpoint(dir)).toThrow(/checkpoint\.json: not a vlmc checkpoint sidecar/);
  });

  it("writes the sidecar with the trainer's meta readable as plain JSON", () => {
    saveCheckpoint(dir, sample(3));
    const sidecar = JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8"));
    expect(sidecar.format).toBe("vlmc.checkpoint/1");
    expect(Object.keys(sidecar.files)).toEqual(["weights.safetensors", "optimizer.safetensors"]);
    expect(sidecar.meta.step).toBe(3);
  });

  it("rejects meta that JSON cannot hold, before touching the previous checkpoint", () => {
    saveCheckpoint(dir, sample(1));
    const bad = { ...sample(2), meta: { step: 1n } };
    expect(() => saveCheckpoint(dir, bad)).toThrow(/checkpoint\.json: checkpoint meta is not JSON-serialisable/);
    expect(loadCheckpoint(dir).meta.step).toBe(1);
  });

  it("leaves no visible checkpoint when a save fails half way", () => {
    saveCheckpoint(dir, sample(1));
    injected.failWritesTo = "optimizer.safetensors";
    expect(() => saveCheckpoint(dir, sample(2))).toThrow(/injected failure/);
    // The new weights are on disk, the new optimizer state is not: neither old nor new is complete.
    expect(hasCheckpoint(dir)).toBe(false);
    expect(() => loadCheckpoint(dir)).toThrow(/no checkpoint here/);
    injected.failWritesTo = undefined;
    saveCheckpoint(dir, sample(3));
    expect(loadCheckpoint(dir).meta.step).toBe(3);
  });
});

describe("loadWeightsInto", () => {
  const model = [
    { name: "a.kernel", shape: [2, 3] },
    { name: "a.bias", shape: [3] },
    { name: "b.kernel", shape: [3, 1] },
  ];

  it("returns each expected parameter's values", () => {
    const file = join(root, "good.safetensors");
    writeSafetensors(file, {
      "a.kernel": { dtype: "F32", shape: [2, 3], data: values(6, 1) },
      "a.bias": { dtype: "F16", shape: [3], data: new Float32Array([0.5, -1, 2]) },
      "b.kernel": { dtype: "F32", shape: [3, 1], data: values(3, 2) },
    });
    const weights = loadWeightsInto(model, file);
    expect([...weights.keys()]).toEqual(["a.kernel", "a.bias", "b.kernel"]);
    expect(weights.get("a.kernel")).toEqual(values(6, 1));
    expect(weights.get("a.bias")).toEqual(new Float32Array([0.5, -1, 2]));
  });

  it("lists every missing, unexpected, wrongly shaped and non-float tensor in one error", () => {
    const file = join(root, "bad.safetensors");
    writeSafetensors(file, {
      "a.kernel": { dtype: "F32", shape: [3, 2], data: values(6, 1) },
      "a.bias": { dtype: "I32", shape: [3], data: new Int32Array(3) },
      "extra.one": { dtype: "F32", shape: [1], data: values(1, 3) },
      "extra.two": { dtype: "F32", shape: [2, 2], data: values(4, 4) },
    });
    let caught: unknown;
    try {
      loadWeightsInto(model, file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WeightsMismatchError);
    const error = caught as WeightsMismatchError;
    expect(error.mismatch).toEqual({
      missing: [{ name: "b.kernel", shape: [3, 1] }],
      unexpected: [
        { name: "extra.one", shape: [1] },
        { name: "extra.two", shape: [2, 2] },
      ],
      wrongShape: [{ name: "a.kernel", expected: [2, 3], found: [3, 2] }],
      wrongDtype: [{ name: "a.bias", dtype: "I32" }],
    });
    expect(error.message).toBe(
      `${file}: the weights do not match the model (1 missing, 2 unexpected, 1 with the wrong shape, 1 with a non-float dtype):\n` +
        "  missing:     b.kernel [3, 1]\n" +
        "  unexpected:  extra.one [1]\n" +
        "  unexpected:  extra.two [2, 2]\n" +
        "  wrong shape: a.kernel: the model needs [2, 3], the file has [3, 2]\n" +
        "  wrong dtype: a.bias: I32, expected F32, F16 or BF16",
    );
  });

  it("reads the weights of a saved checkpoint", () => {
    saveCheckpoint(dir, sample(4));
    const expected = [...sample(4).params].map(([name, t]) => ({ name, shape: t.shape }));
    const weights = loadWeightsInto(expected, join(dir, "weights.safetensors"));
    expect(weights.get("logit_scale")).toEqual(new Float32Array([2.5]));
  });
});
