// The structural diff of two elaborated programs (not of their text): modules matched by path,
// the arguments that differ and where each value came from, parameter and FLOP deltas, the visual
// tokens handed to the connector, and which of A's weights still load into B.
import type { IRModuleInfo, IRProgram, IRValueRef, TrainConfig } from "../ir.js";
import { visualTokens } from "./tokens.js";
import { DIFF_SCHEMA } from "./types.js";
import type { ArgChange, InterfaceChange, ModuleChange, ModuleDiff, ModuleSide, ProgramDiff, ProgramRef, TrainChange } from "./types.js";
import { sameShape, weightCompatibility } from "./weights.js";

export interface DiffOptions {
  /** List unchanged modules too (status "same"). */
  all?: boolean;
  /** How to name each side in output; default "Model (file)". */
  labels?: { a?: string; b?: string };
}

export function diffPrograms(a: IRProgram, b: IRProgram, opts: DiffOptions = {}): ProgramDiff {
  const every = matchModules(a, b);
  markRenames(every, a, b);
  const interfaceChanges = [...diffValues("input", a.inputs, b.inputs), ...diffValues("output", a.outputs, b.outputs)];
  const train = diffTrain(a.train, b.train);
  const weights = weightCompatibility(a, b);
  const summary = { added: 0, removed: 0, changed: 0, same: 0 };
  for (const m of every) summary[m.status]++;
  const identical =
    summary.added + summary.removed + summary.changed === 0 &&
    interfaceChanges.length === 0 &&
    train.length === 0 &&
    weights.reshaped.length + weights.missingInB.length + weights.newInB.length === 0;
  return {
    schema: DIFF_SCHEMA,
    a: programRef(a, opts.labels?.a),
    b: programRef(b, opts.labels?.b),
    identical,
    all: opts.all ?? false,
    totals: {
      a: { ...a.totals },
      b: { ...b.totals },
      delta: {
        params: b.totals.params - a.totals.params,
        trainableParams: b.totals.trainableParams - a.totals.trainableParams,
        flops: b.totals.flops - a.totals.flops,
      },
      percent: { params: percent(a.totals.params, b.totals.params), flops: percent(a.totals.flops, b.totals.flops) },
    },
    topLevel: every
      .filter((m) => m.path !== "" && !m.path.includes("."))
      .map((m) => ({ module: m.path, a: m.a && { params: m.a.params, flops: m.a.flops }, b: m.b && { params: m.b.params, flops: m.b.flops } })),
    summary,
    modules: opts.all ? every : every.filter((m) => m.status !== "same"),
    interface: interfaceChanges,
    train,
    visualTokens: { a: visualTokens(a), b: visualTokens(b) },
    weights,
  };
}

function programRef(p: IRProgram, label: string | undefined): ProgramRef {
  return { label: label ?? `${p.model} (${p.source.file})`, model: p.model, file: p.source.file, hash: p.source.hash };
}

/** (b − a) / a in percent, rounded to 0.1; null when a is 0 (no meaningful ratio). */
function percent(a: number, b: number): number | null {
  return a === 0 ? null : Math.round(((b - a) / a) * 1000) / 10;
}

/**
 * Every module of A and B, matched by path, in program order: B's order, with each module that
 * only A has placed where it stood in A (right after the modules that preceded it there).
 */
function matchModules(a: IRProgram, b: IRProgram): ModuleDiff[] {
  const byPathA = new Map(a.modules.map((m, i) => [m.path, { m, i }]));
  const pathsB = new Set(b.modules.map((m) => m.path));
  const out: ModuleDiff[] = [];
  let nextA = 0; // A's modules before this index have been placed
  const flushRemovedUpTo = (end: number) => {
    for (; nextA < end; nextA++) {
      const m = a.modules[nextA]!;
      if (!pathsB.has(m.path)) out.push(removed(m));
    }
  };
  for (const mb of b.modules) {
    const matched = byPathA.get(mb.path);
    if (!matched) {
      out.push(added(mb));
      continue;
    }
    flushRemovedUpTo(matched.i + 1);
    out.push(compareModules(matched.m, mb));
  }
  flushRemovedUpTo(a.modules.length);
  return out;
}

function side(m: IRModuleInfo): ModuleSide {
  return { kind: m.kind, block: m.block, shape: m.shape, params: m.params, flops: m.flops, span: m.span };
}

function added(m: IRModuleInfo): ModuleDiff {
  return { path: m.path, status: "added", a: null, b: side(m), changes: [], args: [], delta: { params: m.params, flops: m.flops } };
}

function removed(m: IRModuleInfo): ModuleDiff {
  return { path: m.path, status: "removed", a: side(m), b: null, changes: [], args: [], delta: { params: -m.params, flops: -m.flops } };
}

function compareModules(ma: IRModuleInfo, mb: IRModuleInfo): ModuleDiff {
  const args = diffArgs(ma, mb);
  const changes: ModuleChange[] = [];
  if (ma.kind !== mb.kind) changes.push("kind");
  if (ma.block !== mb.block) changes.push("block");
  if (args.length > 0) changes.push("args");
  if (!sameShape(ma.shape, mb.shape)) changes.push("shape");
  if (ma.params !== mb.params) changes.push("params");
  if (ma.flops !== mb.flops) changes.push("flops");
  return {
    path: mb.path,
    status: changes.length > 0 ? "changed" : "same",
    a: side(ma),
    b: side(mb),
    changes,
    args,
    delta: { params: mb.params - ma.params, flops: mb.flops - ma.flops },
  };
}

/** Arguments whose value differs, in A's order then B-only ones; sources are reported, not compared. */
function diffArgs(ma: IRModuleInfo, mb: IRModuleInfo): ArgChange[] {
  const names = [...Object.keys(ma.args), ...Object.keys(mb.args).filter((k) => !(k in ma.args))];
  const out: ArgChange[] = [];
  for (const name of names) {
    const va = name in ma.args ? ma.args[name]! : null;
    const vb = name in mb.args ? mb.args[name]! : null;
    if (JSON.stringify(va) === JSON.stringify(vb)) continue;
    out.push({
      name,
      a: va,
      b: vb,
      sourceA: va === null ? null : (ma.argSources[name] ?? null),
      sourceB: vb === null ? null : (mb.argSources[name] ?? null),
      spanA: va === null ? null : ma.span,
      spanB: vb === null ? null : mb.span,
    });
  }
  return out;
}

/**
 * A module that disappears under one path and appears under another with the same block,
 * arguments and parameter shapes is flagged "possibly renamed". Each removed module pairs with at
 * most one added module, first come first served in program order.
 */
function markRenames(modules: ModuleDiff[], a: IRProgram, b: IRProgram): void {
  const candidates = new Map<string, ModuleDiff[]>();
  for (const m of modules) {
    if (m.status !== "removed") continue;
    const key = signature(m.path, a);
    candidates.set(key, [...(candidates.get(key) ?? []), m]);
  }
  for (const m of modules) {
    if (m.status !== "added") continue;
    const match = candidates.get(signature(m.path, b))?.shift();
    if (!match) continue;
    m.renamedFrom = match.path;
    match.renamedTo = m.path;
  }
}

/** What must agree for two modules to be "the same module under another name". */
function signature(path: string, program: IRProgram): string {
  const m = program.modules.find((x) => x.path === path)!;
  const prefix = path === "" ? "" : path + ".";
  const params = program.params.filter((p) => p.name.startsWith(prefix)).map((p) => `${p.name.slice(prefix.length)}:${p.shape.join("x")}`);
  return JSON.stringify([m.kind, m.block, m.args, m.shape, params.sort()]);
}

function diffValues(role: InterfaceChange["role"], a: IRValueRef[], b: IRValueRef[]): InterfaceChange[] {
  const byNameB = new Map(b.map((v) => [v.name, v]));
  const namesA = new Set(a.map((v) => v.name));
  const out: InterfaceChange[] = [];
  const view = (v: IRValueRef) => ({ shape: v.shape, dtype: v.dtype });
  for (const va of a) {
    const vb = byNameB.get(va.name);
    if (!vb) out.push({ role, name: va.name, a: view(va), b: null });
    else if (va.dtype !== vb.dtype || !sameShape(va.shape, vb.shape)) out.push({ role, name: va.name, a: view(va), b: view(vb) });
  }
  for (const vb of b) if (!namesA.has(vb.name)) out.push({ role, name: vb.name, a: null, b: view(vb) });
  return out;
}

function diffTrain(a: TrainConfig, b: TrainConfig): TrainChange[] {
  const keys = [...Object.keys(a), ...Object.keys(b).filter((k) => !(k in a))];
  return keys
    .filter((k) => a[k] !== b[k])
    .map((key) => ({ key, a: a[key] ?? null, b: b[key] ?? null }));
}

