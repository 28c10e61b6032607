// The header-only check of an HF checkpoint against a compiled spec: every tensor is matched to a
// parameter by the architecture's mapping table and its shape converted by the rule's layout, using
// only the safetensors header. Every problem is collected, then reported together, before any
// tensor data is read.
import type { SafetensorsHeaderEntry } from "../io/safetensors-header.js";
import { HfImportError } from "./errors.js";
import { LAYOUTS, type Layout } from "./layouts.js";
import { compileRules, type MappingTable } from "./mappings.js";

/** One tensor to convert: HF name → our parameter name, through a layout. */
export interface ConversionStep {
  hf: string;
  ours: string;
  layout: Layout;
  hfShape: number[];
  shape: number[];
}

export interface HeaderProblems {
  /** HF tensors that no rule matches, or whose target the spec does not have. */
  unmatched: { name: string; shape: number[]; target?: string }[];
  /** Parameters of the spec that no HF tensor provides. */
  missing: { name: string; shape: number[] }[];
  wrongShape: { hf: string; ours: string; found: number[]; expected: number[]; layout: Layout; reason?: string }[];
  wrongDtype: { name: string; dtype: string }[];
  /** Two HF tensors mapping to one parameter. */
  duplicate: { ours: string; hf: string[] }[];
}

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16"]);

/**
 * Plans the conversion of the tensors in `header` into `params`; throws an HfImportError that lists
 * every unmatched, missing, wrongly shaped or non-float tensor when there is any.
 */
export function planConversion(
  header: ReadonlyMap<string, SafetensorsHeaderEntry>,
  params: readonly { name: string; shape: readonly number[] }[],
  table: MappingTable,
  file: string,
): ConversionStep[] {
  const rules = compileRules(table);
  const wanted = new Map(params.map((p) => [p.name, p.shape]));
  const problems: HeaderProblems = { unmatched: [], missing: [], wrongShape: [], wrongDtype: [], duplicate: [] };
  const steps: ConversionStep[] = [];
  const sources = new Map<string, string[]>();

  for (const [name, entry] of header) {
    if (table.ignored.includes(name)) continue;
    let ours: string | null = null;
    let layout: Layout = "identity";
    for (const rule of rules) {
      ours = rule.match(name);
      if (ours !== null) {
        layout = rule.rule.layout;
        break;
      }
    }
    const target = ours === null ? undefined : wanted.get(ours);
    if (ours === null || target === undefined) {
      problems.unmatched.push({ name, shape: entry.shape, ...(ours === null ? {} : { target: ours }) });
      continue;
    }
    sources.set(ours, [...(sources.get(ours) ?? []), name]);
    if (!FLOAT_DTYPES.has(entry.dtype)) {
      problems.wrongDtype.push({ name, dtype: entry.dtype });
      continue;
    }
    const converted = LAYOUTS[layout].shape(entry.shape, target);
    if (typeof converted === "string" || !sameShape(converted, target)) {
      problems.wrongShape.push({
        hf: name, ours, found: entry.shape, expected: [...target], layout,
        ...(typeof converted === "string" ? { reason: converted } : {}),
      });
      continue;
    }
    steps.push({ hf: name, ours, layout, hfShape: entry.shape, shape: [...target] });
  }
  // Tied weights: a parameter no tensor provided is the tensor it is tied to (lm_head = embed_tokens).
  for (const rule of table.tied ?? []) {
    const target = wanted.get(rule.ours);
    const entry = header.get(rule.hf);
    if (target === undefined || sources.has(rule.ours) || !entry || !FLOAT_DTYPES.has(entry.dtype)) continue;
    sources.set(rule.ours, [rule.hf]);
    const converted = LAYOUTS[rule.layout].shape(entry.shape, target);
    if (typeof converted === "string" || !sameShape(converted, target)) {
      problems.wrongShape.push({
        hf: `${rule.hf} (tied)`, ours: rule.ours, found: entry.shape, expected: [...target], layout: rule.layout,
        ...(typeof converted === "string" ? { reason: converted } : {}),
      });
      continue;
    }
    steps.push({ hf: rule.hf, ours: rule.ours, layout: rule.layout, hfShape: entry.shape, shape: [...target] });
  }
  for (const [ours, hf] of sources) if (hf.length > 1) problems.duplicate.push({ ours, hf });
  for (const { name, shape } of params) if (!sources.has(name)) problems.missing.push({ name, shape: [...shape] });

  const count = problems.unmatched.length + problems.missing.length + problems.wrongShape.length + problems.wrongDtype.length + problems.duplicate.length;
  if (count > 0) throw new HfImportError(describeProblems(problems, count), file);
  return steps;
}

function describeProblems(p: HeaderProblems, count: number): string {
  const lines = [
    ...p.unmatched.map((t) =>
      t.target === undefined
        ? `  unmatched:   ${t.name} ${fmt(t.shape)}: no mapping rule for this tensor`
        : `  unmatched:   ${t.name} ${fmt(t.shape)}: maps to ${t.target}, which the model does not have`,
    ),
    ...p.missing.map((t) => `  missing:     ${t.name} ${fmt(t.shape)}: no tensor in the checkpoint provides it`),
    ...p.wrongShape.map((t) =>
      `  wrong shape: ${t.hf} ${fmt(t.found)} → ${t.ours}: ` +
      (t.reason ?? `${LAYOUTS[t.layout].describe} gives ${fmt(LAYOUTS[t.layout].shape(t.found, t.expected) as number[])}`) +
      `, the model needs ${fmt(t.expected)}`,
    ),
    ...p.wrongDtype.map((t) => `  wrong dtype: ${t.name}: ${t.dtype}, expected F32, F16 or BF16`),
    ...p.duplicate.map((t) => `  duplicate:   ${t.ours} is provided by ${t.hf.join(" and ")}`),
  ];
  return `the checkpoint does not fit the model its config describes (${count} problem${count === 1 ? "" : "s"}):\n${lines.join("\n")}`;
}

const fmt = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
