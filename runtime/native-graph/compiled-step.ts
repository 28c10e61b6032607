// A function — a training step, an evaluation batch — that runs as one TensorFlow graph on the
// native backend, as tf.function does in Python. The code is ordinary tfjs (for a training step:
// forward, tf.variableGrads, the optimizer's update); the first two calls run it eagerly while
// recording every op (trace.ts). When both recordings
// describe the same graph — same ops, same constants, only the variables, inputs and per-step
// scalars differ — the graph is built (graph-def.ts), loaded as a session, and every later call
// feeds the current values in and assigns the variables from what comes out. Anything that makes
// two steps differ (a random dropout mask drawn in JavaScript, a value read back mid-step, a
// branch on one) shows up as two different recordings, and then every step runs op by op, as
// before; so does an input of another shape than the traced one, step by step (vlmc train never
// makes one: it drops an epoch's partial batch). `VLMC_NATIVE_GRAPH=0` turns the graph off, and
// so does a GPU build (feeding a session copies every tensor to the host and back).
//
// The contract: what may change from step to step is the variables (all of tfjs's registered
// ones), the inputs and the scalars. Any other tensor the step reads is taken as a constant: its
// value is copied into the graph when it is built (vlmc's models read nothing else).
import * as tf from "@tensorflow/tfjs-core";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { buildGraph, type BuiltGraph, type Slot } from "./graph-def.js";
import { graphProtos, nodeBackend, type NodeBackend } from "./tfjs-node.js";
import { describeTrace, traceStep, type Trace } from "./trace.js";

/** Tensors by name: a function's inputs, scalars or outputs. */
export type Tensors = Readonly<Record<string, tf.Tensor>>;

/**
 * The function's code: may assign variables; returns its outputs by name. Runs inside tf.tidy.
 * It may read variables, `inputs` and `scalars`; any other tensor it reads must keep its value
 * (see the top).
 */
export type GraphBody = (inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>>) => Tensors;

/** Whether the graph is wanted: on unless VLMC_NATIVE_GRAPH=0. */
export function nativeGraphEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env["VLMC_NATIVE_GRAPH"] !== "0";
}

interface Recording {
  trace: Trace;
  description: string[];
  slots: Map<number, Slot>;
  /** The variables the function assigned, fetched first, in this order. */
  assigned: tf.Variable[];
  /** The names of its outputs, fetched after the variables, in this order. */
  outputs: string[];
  fetches: number[];
  signature: string;
  /** Two slots given the same tensor: no graph (see record()). */
  aliased?: string;
}

interface Session {
  id: number;
  graph: BuiltGraph;
  trace: Trace;
  assigned: tf.Variable[];
  outputs: string[];
  signature: string;
}

export interface NativeGraphOptions {
  /** What one call is, for the user's line: "training step", "evaluation batch". */
  what: string;
  /** Hears once how calls run from then on: one line for the user. */
  onMode?: (line: string) => void;
}

export class NativeGraphFunction {
  private mode: "tracing" | "graph" | "eager" = "tracing";
  private first: Recording | undefined;
  private session: Session | undefined;
  private readonly backend: NodeBackend;

  private readonly onMode: (line: string) => void;

  /** Throws when the active backend is not tfjs-node's; `nativeGraphAvailable()` says so without throwing. */
  constructor(
    private readonly body: GraphBody,
    private readonly options: NativeGraphOptions,
  ) {
    const backend = nodeBackend();
    if (!backend) throw new Error("NativeGraphFunction needs tfjs-node's backend active");
    this.backend = backend;
    this.onMode = options.onMode ?? (() => {});
  }

  /** How calls run now: "tracing", "graph" or "eager". */
  get state(): "tracing" | "graph" | "eager" {
    return this.mode;
  }

  /** Nodes of the graph once built. */
  get nodes(): number | undefined {
    return this.session?.graph.nodes;
  }

  /** One call; the caller owns the returned tensors. */
  run(inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>> = {}): Tensors {
    if (this.mode === "graph" && this.session) {
      if (signatureOf(inputs, scalars) !== this.session.signature) return this.eager(inputs, scalars);
      try {
        return this.runSession(this.session, inputs, scalars);
      } catch (err) {
        // The variables are untouched (they are assigned only after a run succeeds). If the same
        // call fails op by op too, the data is at fault (an index out of range): keep the graph
        // and let the error through; otherwise the graph is, and calls go on op by op.
        const out = this.eager(inputs, scalars);
        this.fallBack(`the graph failed to run (${this.explain(err)})`);
        return out;
      }
    }
    if (this.mode === "eager") return this.eager(inputs, scalars);
    const { out, recording } = this.record(inputs, scalars);
    if (!this.first) {
      this.first = recording;
      return out;
    }
    const reason = differences(this.first, recording);
    this.first = undefined;
    if (reason) {
      this.fallBack(reason);
      return out;
    }
    try {
      const started = performance.now();
      this.session = this.load(recording);
      this.mode = "graph";
      this.onMode(`native TensorFlow: each ${this.options.what} runs as one graph (${this.session.graph.nodes} nodes, built in ${Math.round(performance.now() - started)} ms; VLMC_NATIVE_GRAPH=0 runs it op by op)`);
    } catch (err) {
      this.fallBack(`the graph could not be built (${this.explain(err, recording.trace)})`);
    }
    return out;
  }

  /** Frees the session; later calls (if any) run op by op. */
  dispose(): void {
    if (this.session) this.backend.binding.deleteSavedModel(this.session.id);
    this.session = undefined;
    this.first = undefined;
    this.mode = "eager";
  }

  /** TensorFlow's message on one line, with each graph node it names followed by its op type. */
  private explain(err: unknown, trace: Trace | undefined = this.session?.trace): string {
    const text = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ").trim();
    return text.replace(/\bop_(\d+)\b/g, (node, i: string) => {
      const op = trace?.ops[Number(i)]?.op;
      return op ? `${node} (${op})` : node;
    });
  }

  private eager(inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>>): Tensors {
    return tf.tidy(() => ({ ...this.body(inputs, scalars) }));
  }

  private fallBack(reason: string): void {
    this.dispose();
    this.onMode(`native TensorFlow: each ${this.options.what} runs op by op: ${reason}`);
  }

  /** An eager call with its ops recorded, and what the recording needs to become a graph. */
  private record(inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>>): { out: Tensors; recording: Recording } {
    const be = this.backend;
    const variables = registeredVariables();
    // Every slot gets its binding id before the recording starts, so that a slot made from
    // JavaScript values is not mistaken for a constant the step made.
    const slots = new Map<number, Slot>();
    const idOf = (t: tf.Tensor) => be.getInputTensorIds([t])[0]!;
    let aliased: string | undefined;
    const slot = (t: tf.Tensor, key: string) => {
      const id = idOf(t);
      // One tensor in two slots would become one Placeholder, fed from only one of them later.
      if (slots.has(id)) aliased ??= `${slots.get(id)!.key} and ${key} are the same tensor`;
      else slots.set(id, { key, dtype: t.dtype });
    };
    for (const v of variables) slot(v, `var:${v.name}`);
    for (const [k, t] of Object.entries(inputs)) slot(t, `input:${k}`);
    for (const [k, t] of Object.entries(scalars)) slot(t, `scalar:${k}`);
    const before = variables.map(idOf);
    const { result: out, trace } = traceStep(be, () => this.eager(inputs, scalars));
    const assigned = variables.filter((v, i) => idOf(v) !== before[i]);
    const outputs = Object.keys(out);
    const fetches = [...assigned.map(idOf), ...outputs.map((k) => idOf(out[k]!))];
    const named = [...assigned.map((v) => ({ name: `var:${v.name}`, id: idOf(v) })), ...outputs.map((k) => ({ name: `output:${k}`, id: idOf(out[k]!) }))];
    const labels = new Map([...slots].map(([id, s]) => [id, s.key]));
    return { out, recording: { trace, description: describeTrace(trace, labels, named, (id) => be.binding.tensorDataSync(id)), slots, assigned, outputs, fetches, signature: signatureOf(inputs, scalars), ...(aliased ? { aliased } : {}) } };
  }

  private load(recording: Recording): Session {
    const graph = buildGraph(graphProtos(), this.backend.binding, recording.trace, recording.slots, recording.fetches);
    const dir = mkdtempSync(join(tmpdir(), "vlmc-step-graph-"));
    let id: number;
    try {
      writeFileSync(join(dir, "saved_model.pb"), graph.savedModel);
      id = this.backend.binding.loadSavedModel(dir, "serve");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return { id, graph, trace: recording.trace, assigned: recording.assigned, outputs: recording.outputs, signature: recording.signature };
  }

  private runSession(session: Session, inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>>): Tensors {
    const be = this.backend;
    const byName = new Map(session.assigned.map((v) => [`var:${v.name}`, v as tf.Tensor]));
    const tensors = session.graph.feeds.map((key) => {
      const t = key.startsWith("var:") ? (byName.get(key) ?? registeredVariable(key.slice(4))) : key.startsWith("input:") ? inputs[key.slice(6)] : scalars[key.slice(7)];
      if (!t) throw new Error(`nothing to feed for ${key}`);
      return t;
    });
    const outputs = be.binding.runSavedModel(session.id, be.getInputTensorIds(tensors), session.graph.inputNames, session.graph.outputNames).map((m) => be.createOutputTensor(m));
    session.assigned.forEach((v, i) => {
      v.assign(outputs[i]!);
      outputs[i]!.dispose();
    });
    const n = session.assigned.length;
    return Object.fromEntries(session.outputs.map((k, i) => [k, outputs[n + i]!]));
  }
}

/** Whether steps could run as a graph here: native TensorFlow on the CPU, not switched off. */
export function nativeGraphAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  const backend = nodeBackend();
  return nativeGraphEnabled(env) && backend !== undefined && !backend.binding.isUsingGpuDevice?.();
}

function registeredVariables(): tf.Variable[] {
  return Object.values((tf.engine() as unknown as { state: { registeredVariables: Record<string, tf.Variable> } }).state.registeredVariables);
}

function registeredVariable(name: string): tf.Variable | undefined {
  return (tf.engine() as unknown as { state: { registeredVariables: Record<string, tf.Variable> } }).state.registeredVariables[name];
}

function signatureOf(inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>>): string {
  const part = (o: Tensors) => Object.entries(o).map(([k, t]) => `${k}:${t.dtype}[${t.shape.join(",")}]`).sort().join(" ");
  return `${part(inputs)} | ${part(scalars)}`;
}

/** Why two recordings cannot share one graph, or undefined when they can. */
function differences(a: Recording, b: Recording): string | undefined {
  if (a.aliased ?? b.aliased) return `two inputs of the step are one tensor (${a.aliased ?? b.aliased})`;
  if (b.trace.hostReads > 0) return `the step reads ${b.trace.hostReads} value(s) back to JavaScript while it runs${b.trace.firstReadAt ? ` (first in ${b.trace.firstReadAt})` : ""}`;
  if (a.signature !== b.signature) return "the inputs of the first two steps differ in shape";
  const n = Math.max(a.description.length, b.description.length);
  for (let i = 0; i < n; i++) {
    if (a.description[i] !== b.description[i]) {
      const what = (b.description[i] ?? a.description[i] ?? "").split(" ")[0];
      return `two steps ran different ops or constants (first at line ${i + 1} of the recording, ${what}; e.g. a random mask drawn in JavaScript)`;
    }
  }
  return undefined;
}
