// The order in which training examples are visited: a fresh shuffle per epoch, derived from the
// run seed and the epoch number alone. Because it is a pure function, a resumed run recomputes the
// order of its epoch and continues at the same position without saving any generator state.
import { createRng } from "../data/rng.js";

/** A permutation of 0..size-1 for `epoch` of a run with `seed`. */
export function epochOrder(seed: number, epoch: number, size: number): number[] {
  // Distinct, well-mixed seeds per epoch (createRng mixes its seed further).
  const rng = createRng((Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
  const order = Array.from({ length: size }, (_, i) => i);
  return rng.shuffle(order);
}

/**
 * Full batches per epoch: the last partial batch is dropped so every step sees the same batch
 * shape (a smaller split than one batch gives one batch of the whole split).
 */
export function stepsPerEpoch(size: number, batch: number): number {
  return Math.max(1, Math.floor(size / batch));
}

/** The example indices of batch `index` within an epoch's order. */
export function batchAt(order: readonly number[], index: number, batch: number): number[] {
  const start = index * batch;
  return order.slice(start, Math.min(order.length, start + batch));
}

/** Consecutive batches over a whole split, the last one possibly smaller (for evaluation). */
export function* sequentialBatches(size: number, batch: number): Generator<number[]> {
  for (let start = 0; start < size; start += batch) {
    yield Array.from({ length: Math.min(batch, size - start) }, (_, i) => start + i);
  }
}
