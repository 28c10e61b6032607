// Shared helpers for the ops and backend tests: seeded random data, running the same computation on
// cpu and wasm, and comparing results as plain arrays.
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../runtime/backend.js";

/** mulberry32: a small deterministic PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [-scale, scale). */
export function randomArray(size: number, seed: number, scale = 1): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (next() * 2 - 1) * scale;
  return out;
}

export function randomInts(size: number, seed: number, max: number): Int32Array {
  const next = rng(seed);
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(next() * max);
  return out;
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export type Backend = "cpu" | "wasm";

export async function useBackend(name: Backend): Promise<void> {
  await initBackend(name);
}

/** Named float parameters as plain data, so the same values can be made into variables on any backend. */
export type ParamData = Record<string, { shape: number[]; data: Float32Array }>;

export function randomParams(shapes: Record<string, number[]>, seed: number, scale = 0.5): ParamData {
  const out: ParamData = {};
  let s = seed;
  for (const [name, shape] of Object.entries(shapes)) out[name] = { shape, data: randomArray(numel(shape), s++, scale) };
  return out;
}

export interface LossAndGrads {
  loss: number;
  grads: Record<string, Float32Array>;
}

/**
 * Builds variables from `params` on `backend`, evaluates `loss(vars)` and its gradients with
 * tf.variableGrads, and returns everything as plain arrays (tensors disposed).
 */
export async function lossAndGrads(
  backend: Backend, params: ParamData, loss: (vars: Record<string, tf.Variable>) => tf.Scalar,
): Promise<LossAndGrads> {
  await useBackend(backend);
  const vars: Record<string, tf.Variable> = {};
  for (const [name, p] of Object.entries(params)) vars[name] = tf.variable(tf.tensor(p.data, p.shape), true, `${name}_${backend}_${uid++}`);
  try {
    const { value, grads } = tf.variableGrads(() => loss(vars), Object.values(vars));
    const out: LossAndGrads = { loss: (await value.data())[0]!, grads: {} };
    for (const [name, v] of Object.entries(vars)) out.grads[name] = (await grads[v.name]!.data()) as Float32Array;
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  } finally {
    tf.dispose(Object.values(vars));
  }
}
let uid = 0;

/** ‖a − b‖∞ / max(‖b‖∞, tiny): the relative error used throughout. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

/** Evaluates `f` on `backend` and returns its output as plain data. */
export async function evalOn(backend: Backend, f: () => tf.Tensor): Promise<{ shape: number[]; data: Float32Array }> {
  await useBackend(backend);
  const t = tf.tidy(f);
  const data = (await t.data()) as Float32Array;
  const shape = t.shape;
  t.dispose();
  return { shape, data: Float32Array.from(data) };
}
