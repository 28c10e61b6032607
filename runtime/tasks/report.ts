// The figures `vlmc eval` prints for a model, named as issue 4 specifies them, from the metrics of
// the in-distribution split (test) and of the heldout split (colour–shape combinations never seen
// in training), when the dataset has one.
import type { EvalMetrics } from "../train/evaluate.js";
import type { TaskName } from "./types.js";

export interface TaskReport {
  /** Flat figures plus, for "lm", the qa_by_type object: { test: {colour: …}, heldout: {…} }. */
  json: Record<string, unknown>;
  /** Human-readable lines, chance level beside the zero-shot figure. */
  lines: string[];
}

const QA_TYPE_PREFIX = "qa_accuracy_";

export function taskReport(task: TaskName, main: { split: string; metrics: EvalMetrics }, heldout?: { split: string; metrics: EvalMetrics }): TaskReport {
  const json: Record<string, unknown> = {};
  const lines: string[] = [];
  const m = main.metrics;
  const h = heldout?.metrics;
  if (m.accuracy !== undefined) json["accuracy"] = m.accuracy;
  if (m.loss !== undefined) json["loss"] = m.loss;
  json["examples"] = m.examples;
  if (h?.loss !== undefined) json[`${heldout!.split}_loss`] = h.loss;
  if (h) json[`${heldout!.split}_examples`] = h.examples;

  if (task === "classify") {
    lines.push(`${main.split}: ${figures(m, ["accuracy"])}`);
    if (h) lines.push(`${heldout!.split}: ${figures(h, ["accuracy"])}`);
  } else if (task === "contrastive") {
    setIf(json, "retrieval_accuracy", m["retrieval_accuracy"]);
    setIf(json, "zero_shot_accuracy", h?.["zero_shot_accuracy"]);
    setIf(json, `zero_shot_accuracy_${main.split}`, m["zero_shot_accuracy"]);
    setIf(json, "zero_shot_chance", m["zero_shot_chance"] ?? h?.["zero_shot_chance"]);
    setIf(json, `${heldout?.split}_retrieval_accuracy`, h?.["retrieval_accuracy"]);
    const chance = json["zero_shot_chance"] as number | undefined;
    const zeroShot = (x: EvalMetrics): string =>
      x["zero_shot_accuracy"] !== undefined ? `zero-shot accuracy ${pct(x["zero_shot_accuracy"])}${chance !== undefined ? ` (chance ${pct(chance)})` : ""}, ` : "";
    lines.push(`${main.split}: ${zeroShot(m)}${figures(m, ["retrieval_accuracy"])}`);
    if (h) lines.push(`${heldout!.split} (unseen combinations): ${zeroShot(h)}${figures(h, ["retrieval_accuracy"])}`);
  } else {
    setIf(json, "qa_accuracy", m["qa_accuracy"]);
    setIf(json, `qa_accuracy_${heldout?.split}`, h?.["qa_accuracy"]);
    const byType: Record<string, Record<string, number>> = {};
    for (const [name, metrics] of [[main.split, m], ...(h ? [[heldout!.split, h]] : [])] as [string, EvalMetrics][]) {
      const types = qaTypes(metrics);
      if (Object.keys(types).length > 0) byType[name] = types;
      if (metrics["qa_accuracy"] !== undefined) {
        const detail = Object.entries(types).map(([t, v]) => `${t} ${pct(v)}`).join(", ");
        lines.push(`${name}${name === heldout?.split ? " (unseen combinations)" : ""}: answer accuracy ${pct(metrics["qa_accuracy"])} (${detail}), loss ${fmt(metrics.loss)}`);
      }
    }
    json["qa_by_type"] = byType;
  }
  return { json, lines };
}

/** { colour: 0.98, shape: … } from the flat qa_accuracy_<type> metrics. */
export function qaTypes(metrics: EvalMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (k.startsWith(QA_TYPE_PREFIX) && v !== undefined) out[k.slice(QA_TYPE_PREFIX.length)] = v;
  return out;
}

function figures(m: EvalMetrics, keys: string[]): string {
  const parts = keys.filter((k) => m[k] !== undefined).map((k) => `${k.replace(/_/g, " ")} ${pct(m[k]!)}`);
  if (m.loss !== undefined) parts.push(`loss ${fmt(m.loss)}`);
  parts.push(`${m.examples} examples`);
  return parts.join(", ");
}

function setIf(json: Record<string, unknown>, key: string, value: number | undefined): void {
  if (value !== undefined) json[key] = value;
}

const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
const fmt = (v: number | undefined): string => (v === undefined ? "?" : v.toFixed(4));
