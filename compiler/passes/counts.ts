// Parameter and FLOP counts: per node, rolled up into every module (a module counts itself and
// its children) and the program totals. Reads the IR only; linear in its size.
import type { IRModuleInfo, IRNode, IRParam } from "../ir.js";
import { product } from "../elaborate/shapes.js";
import { nodeFlops } from "./flops.js";

export function paramCount(param: IRParam): number {
  return product(param.shape);
}

export interface Counts {
  params: number;
  trainableParams: number;
  flops: number;
  /** FLOPs of each node, by node index. */
  nodeFlops: number[];
}

/** Adds `amount` to the module at `path` and to every enclosing module ("a.b.c" → a.b.c, a.b, a, ""). */
function addToAncestors(byPath: Map<string, IRModuleInfo>, path: string, key: "params" | "flops", amount: number): void {
  if (amount === 0) return;
  let p = path;
  for (;;) {
    const m = byPath.get(p);
    if (m) m[key] += amount;
    if (p === "") return;
    const dot = p.lastIndexOf(".");
    p = dot < 0 ? "" : p.slice(0, dot);
  }
}

/** Fills in `params` and `flops` of every module and returns the totals. */
export function countProgram(nodes: IRNode[], params: IRParam[], modules: IRModuleInfo[]): Counts {
  const byPath = new Map(modules.map((m) => [m.path, m]));
  for (const m of modules) {
    m.params = 0;
    m.flops = 0;
  }
  const shapes = new Map(nodes.map((n) => [n.id, n.shape]));
  const perNode = nodes.map((n) => nodeFlops(n, (i) => shapes.get(n.inputs[i]!) ?? []));
  nodes.forEach((n, i) => addToAncestors(byPath, n.module, "flops", perNode[i]!));
  let total = 0;
  let trainable = 0;
  for (const param of params) {
    const count = paramCount(param);
    total += count;
    if (param.trainable) trainable += count;
    // A parameter "<module>.<role>" belongs to <module> and its ancestors.
    const dot = param.name.lastIndexOf(".");
    addToAncestors(byPath, dot < 0 ? "" : param.name.slice(0, dot), "params", count);
  }
  return { params: total, trainableParams: trainable, flops: perNode.reduce((a, b) => a + b, 0), nodeFlops: perNode };
}
