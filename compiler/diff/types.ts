// The structural diff of two compiled programs: the schema `vlmc diff --json` prints and the report
// embeds. docs/diff.md documents it for users; keep the two in step.
import type { AttrValue, Shape, Span } from "../ir.js";

export const DIFF_SCHEMA = "vlmc.diff/1";

export type ArgSource = "default" | "call" | "extends" | "set";

/** Which program a side of the diff is. */
export interface ProgramRef {
  /** How the CLI names this side: "specs/clip.vlm (Clip, --set connector=…)". */
  label: string;
  model: string;
  file: string;
  /** The program's source hash (files read + overrides). */
  hash: string;
}

export interface Totals {
  params: number;
  trainableParams: number;
  flops: number;
}

/** One side of a module: what the IR says about it in A or in B. */
export interface ModuleSide {
  kind: string;
  block: string;
  shape: Shape;
  params: number;
  flops: number;
  /** Where the module is called. */
  span: Span;
}

/**
 * One block argument whose value differs between A and B. `null` on a side where the argument does
 * not exist. The IR records one span per module (its call), not per argument, so `span` is the
 * module's call site on that side.
 */
export interface ArgChange {
  name: string;
  a: AttrValue | null;
  b: AttrValue | null;
  sourceA: ArgSource | null;
  sourceB: ArgSource | null;
  spanA: Span | null;
  spanB: Span | null;
}

export type ModuleStatus = "added" | "removed" | "changed" | "same";

/** What about a matched module differs. */
export type ModuleChange = "kind" | "block" | "args" | "shape" | "params" | "flops";

export interface ModuleDiff {
  /** Dot path ("" is the model itself). Modules are matched between A and B by path. */
  path: string;
  status: ModuleStatus;
  /** null when the module exists only in B (added). */
  a: ModuleSide | null;
  /** null when the module exists only in A (removed). */
  b: ModuleSide | null;
  changes: ModuleChange[];
  args: ArgChange[];
  /** B minus A; a removed module counts as 0 in B, an added one as 0 in A. */
  delta: { params: number; flops: number };
  /**
   * On an added module: a removed module with the same block, arguments and parameter shapes,
   * i.e. probably the same module under a new name. (On that removed module: `renamedTo`.)
   */
  renamedFrom?: string;
  renamedTo?: string;
}

/** The number of image tokens the connector receives, per side. */
export interface VisualTokens {
  /** null: no connector, or its image input could not be found ("n/a"). */
  tokens: number | null;
  /** Path of the connector module, or null when the model has none. */
  connector: string | null;
  /** Shape of the connector's image input ([B, N, D] → N tokens; a pooled [B, D] → 1). */
  shape: Shape | null;
  /** Why `tokens` is what it is, in words. */
  note: string;
}

/** Which of A's weight tensors load into B unchanged (same name and same shape). */
export interface WeightCompatibility {
  /** Tensors in A / in B. */
  tensorsA: number;
  tensorsB: number;
  /** Names present in both with the same shape: these load. */
  loadable: string[];
  /** Scalar values in the loadable tensors, and in all of B (so "x of y of B's values come from A"). */
  loadableValues: number;
  valuesB: number;
  /** Same name, different shape: these do not load. */
  reshaped: { name: string; a: number[]; b: number[] }[];
  /** In A, not in B (removed or renamed): nothing to load them into. */
  missingInB: string[];
  /** In B, not in A: B initialises them fresh. */
  newInB: string[];
}

export interface TopLevelCost {
  module: string;
  a: { params: number; flops: number } | null;
  b: { params: number; flops: number } | null;
}

/** An input or output whose shape or dtype differs (or that exists on one side only). */
export interface InterfaceChange {
  role: "input" | "output";
  name: string;
  a: { shape: Shape; dtype: string } | null;
  b: { shape: Shape; dtype: string } | null;
}

/** A `train { … }` default that differs. */
export interface TrainChange {
  key: string;
  a: number | string | boolean | null;
  b: number | string | boolean | null;
}

export interface ProgramDiff {
  schema: typeof DIFF_SCHEMA;
  a: ProgramRef;
  b: ProgramRef;
  /** True when nothing structural differs: no module, argument, shape, count, weight, interface or train change. */
  identical: boolean;
  /** Whether `modules` lists unchanged modules too (diffPrograms' `all`). */
  all: boolean;
  totals: {
    a: Totals;
    b: Totals;
    delta: Totals;
    /** delta / a × 100; null when A's count is 0. */
    percent: { params: number | null; flops: number | null };
  };
  /**
   * Cost of every top-level module (path without a dot, the model itself excluded) on each side,
   * whatever `all` is: what the report's bar charts draw. null on a side without the module.
   */
  topLevel: TopLevelCost[];
  /** Counts over every module, whatever `all` is. */
  summary: { added: number; removed: number; changed: number; same: number };
  /** In program order (B's order, with A's removed modules where they stood). Unchanged ones only with `all`. */
  modules: ModuleDiff[];
  interface: InterfaceChange[];
  train: TrainChange[];
  visualTokens: { a: VisualTokens; b: VisualTokens };
  weights: WeightCompatibility;
}
