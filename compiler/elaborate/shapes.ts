// Shape arithmetic shared by the op builders: formatting, broadcasting, element counts.
// A dimension is a concrete integer or a symbolic name (the batch "B"); symbolic dimensions are
// only ever compared for equality, never computed with.
import type { Dim, Shape } from "../ir.js";

export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** numpy broadcasting of two shapes, or null when they are incompatible. */
export function broadcastShapes(a: Shape, b: Shape): Shape | null {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db) out.push(da);
    else if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else return null;
  }
  return out;
}

/** Elements per example: symbolic dimensions (the batch) count as 1, a tiled batch "B*T" as T. */
export function elementsPerExample(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= typeof d === "number" ? d : batchFactor(d);
  return n;
}

/** Rows per example in a symbolic batch dimension: T for tile_image's "B*T", else 1. */
export function batchFactor(d: string): number {
  const m = /\*(\d+)$/.exec(d);
  return m ? Number(m[1]) : 1;
}

export function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
