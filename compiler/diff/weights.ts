// Which of A's weights still load into B. A checkpoint tensor is named by its parameter path, so a
// tensor loads when B has a parameter of the same name and the same shape; anything else is either
// reshaped (same name), missing in B (removed or renamed) or new in B (initialised fresh).
import type { IRProgram } from "../ir.js";
import type { WeightCompatibility } from "./types.js";

export function weightCompatibility(a: IRProgram, b: IRProgram): WeightCompatibility {
  const shapesB = new Map(b.params.map((p) => [p.name, p.shape]));
  const namesA = new Set(a.params.map((p) => p.name));
  const loadable: string[] = [];
  const reshaped: WeightCompatibility["reshaped"] = [];
  const missingInB: string[] = [];
  let loadableValues = 0;
  for (const param of a.params) {
    const shapeB = shapesB.get(param.name);
    if (shapeB === undefined) missingInB.push(param.name);
    else if (sameShape(param.shape, shapeB)) {
      loadable.push(param.name);
      loadableValues += size(param.shape);
    } else reshaped.push({ name: param.name, a: param.shape, b: shapeB });
  }
  return {
    tensorsA: a.params.length,
    tensorsB: b.params.length,
    loadable,
    loadableValues,
    valuesB: b.params.reduce((sum, p) => sum + size(p.shape), 0),
    reshaped,
    missingInB,
    newInB: b.params.filter((p) => !namesA.has(p.name)).map((p) => p.name),
  };
}

export function sameShape(a: readonly (number | string)[], b: readonly (number | string)[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function size(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}
