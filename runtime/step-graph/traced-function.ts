// A function — a training step, an evaluation batch — recorded while it runs eagerly and then run
// from the recording, as tf.function does in Python. The code is ordinary tfjs (for a training
// step: forward, tf.variableGrads, the optimizer's update). The first two calls run it eagerly while
// the backend's adapter records every kernel (native TensorFlow: runtime/native-graph/; wasm:
// runtime/kernel-replay/). When both recordings describe the same computation — same kernels, same
// constants, only the variables, inputs and per-step scalars differ — the adapter builds its
// compiled form (a TensorFlow graph; a kernel sequence replayed without tfjs's engine), and every
// later call feeds the current values in and assigns the variables from what comes out.
//
// Anything that makes two calls differ (a random mask drawn in JavaScript, a value read back
// mid-call, a branch on one) shows up as two different recordings, and then every call runs op by
// op, as before, with one line saying why; an input of another shape than the recorded one runs
// that call op by op (vlmc train never makes one: it drops an epoch's partial batch).
//
// The contract: what may change from call to call is the variables (all of tfjs's registered
// ones), the inputs and the scalars. Any other tensor the function reads is taken as a constant:
// its value is copied when the compiled form is built (vlmc's models read nothing else).
import * as tf from "@tensorflow/tfjs-core";
import { performance } from "node:perf_hooks";

/** Tensors by name: a function's inputs, scalars or outputs. */
export type Tensors = Readonly<Record<string, tf.Tensor>>;

/**
 * The function's code: may assign variables; returns its outputs by name. Runs inside tf.tidy.
 * It may read variables, `inputs` and `scalars`; any other tensor it reads must keep its value
 * (see the top).
 */
export type GraphBody = (inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>>) => Tensors;

/** A tensor the compiled form takes in, by what the caller must feed ("var:…", "input:…", "scalar:…"). */
export interface Slot {
  key: string;
  /** tfjs dtype. */
  dtype: string;
}

/** A value the compiled form returns: its data's key, with the shape and dtype of the tensor returned. */
export interface Fetch<K> {
  key: K;
  shape: number[];
  dtype: string;
}

/** What a backend's recording must tell besides its own contents. */
export interface Recorded<R> {
  recording: R;
  /** Values read back to JavaScript while the function ran (outside kernels). */
  hostReads: number;
  /** The code that made the first read, for the message. */
  firstReadAt?: string;
}

/** What compiling depends on for one backend; K is how it names a tensor's data. */
export interface GraphAdapter<K, R, P> {
  /** "native TensorFlow", "wasm": the start of the user's line. */
  readonly backend: string;
  /** "one graph", "one replayed kernel sequence". */
  readonly form: string;
  /** "nodes", "kernels". */
  readonly unit: string;
  /** The environment variable that turns it off. */
  readonly switchName: string;
  /** The key of a tensor's data (uploads data still held in JavaScript). */
  keyOf(t: tf.Tensor): K;
  /** Runs `body` eagerly with its kernels recorded. */
  record<T>(body: () => T): Recorded<R> & { result: T };
  /** The recording as text lines with keys replaced by what they stand for (see differences()). */
  describe(recording: R, slots: ReadonlyMap<K, string>, fetches: readonly { name: string; key: K }[]): string[];
  /** The compiled form: takes `feeds` (slot keys, in its order), returns `fetches`' values in order. */
  build(recording: R, slots: ReadonlyMap<K, Slot>, fetches: readonly Fetch<K>[]): P;
  feedsOf(plan: P): readonly string[];
  sizeOf(plan: P): number;
  /** Runs the compiled form; the caller owns the returned tensors. */
  run(plan: P, feeds: readonly tf.Tensor[]): tf.Tensor[];
  /** An error of build or run, on one line, in the recording's terms. */
  explain(err: unknown, recording: R): string;
  release(plan: P): void;
}

interface Recording<K, R> {
  recorded: Recorded<R>;
  description: string[];
  slots: Map<K, Slot>;
  /** The variables the function assigned, fetched first, in this order. */
  assigned: tf.Variable[];
  /** The names of its outputs, fetched after the variables, in this order. */
  outputs: string[];
  fetches: Fetch<K>[];
  signature: string;
  /** Why this recording cannot be compiled whatever the other says (two slots given one tensor; a recording that cannot be described). */
  unusable?: string;
}

interface Compiled<R, P> {
  plan: P;
  recording: R;
  /** The variables among the plan's feeds, by slot key (the same objects every call). */
  fedVariables: Map<string, tf.Variable>;
  assigned: tf.Variable[];
  outputs: string[];
  signature: string;
}

export interface TracedFunctionOptions {
  /** What one call is, for the user's line: "training step", "evaluation batch". */
  what: string;
  /** Hears once how calls run from then on: one line for the user. */
  onMode?: (line: string) => void;
}

export type TracedState = "tracing" | "compiled" | "eager";

export class TracedFunction<K, R, P> {
  private mode: TracedState = "tracing";
  private first: Recording<K, R> | undefined;
  private compiled: Compiled<R, P> | undefined;
  private readonly onMode: (line: string) => void;

  constructor(
    private readonly adapter: GraphAdapter<K, R, P>,
    private readonly body: GraphBody,
    private readonly options: TracedFunctionOptions,
  ) {
    this.onMode = options.onMode ?? (() => {});
  }

  /** How calls run now. */
  get state(): TracedState {
    return this.mode;
  }

  /** One call; the caller owns the returned tensors. */
  run(inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>> = {}): Tensors {
    if (this.mode === "compiled" && this.compiled) {
      if (signatureOf(inputs, scalars) !== this.compiled.signature) return this.eager(inputs, scalars);
      try {
        return this.runCompiled(this.compiled, inputs, scalars);
      } catch (err) {
        // The variables are untouched (they are assigned only after a run succeeds). If the same
        // call fails op by op too, the data is at fault (an index out of range): keep the compiled
        // form and let the error through; otherwise it is at fault, and calls go on op by op.
        const out = this.eager(inputs, scalars);
        this.fallBack(`it failed to run (${this.adapter.explain(err, this.compiled.recording)})`);
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
    const { adapter } = this;
    try {
      const started = performance.now();
      const plan = adapter.build(recording.recorded.recording, recording.slots, recording.fetches);
      const variables = new Map(registeredVariables().map((v) => [`var:${v.name}`, v]));
      const fedVariables = new Map(adapter.feedsOf(plan).filter((key) => variables.has(key)).map((key) => [key, variables.get(key)!]));
      this.compiled = { plan, recording: recording.recorded.recording, fedVariables, assigned: recording.assigned, outputs: recording.outputs, signature: recording.signature };
      this.mode = "compiled";
      this.onMode(`${adapter.backend}: each ${this.options.what} runs as ${adapter.form} (${adapter.sizeOf(plan)} ${adapter.unit}, built in ${Math.round(performance.now() - started)} ms; ${adapter.switchName}=0 runs it op by op)`);
    } catch (err) {
      this.fallBack(`it could not be built (${adapter.explain(err, recording.recorded.recording)})`);
    }
    return out;
  }

  /** Frees the compiled form; later calls (if any) run op by op. */
  dispose(): void {
    if (this.compiled) this.adapter.release(this.compiled.plan);
    this.compiled = undefined;
    this.first = undefined;
    this.mode = "eager";
  }

  private eager(inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>>): Tensors {
    return tf.tidy(() => ({ ...this.body(inputs, scalars) }));
  }

  private fallBack(reason: string): void {
    this.dispose();
    this.onMode(`${this.adapter.backend}: each ${this.options.what} runs op by op: ${reason}`);
  }

  /** An eager call with its kernels recorded, and what the recording needs to be compiled. */
  private record(inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>>): { out: Tensors; recording: Recording<K, R> } {
    const { adapter } = this;
    const variables = registeredVariables();
    // Every slot gets its key before the recording starts, so that a slot made from JavaScript
    // values is not mistaken for a constant the function made.
    const slots = new Map<K, Slot>();
    let aliased: string | undefined;
    const slot = (t: tf.Tensor, key: string) => {
      const k = adapter.keyOf(t);
      // One tensor in two slots would be one input of the compiled form, fed from only one later.
      if (slots.has(k)) aliased ??= `${slots.get(k)!.key} and ${key} are the same tensor`;
      else slots.set(k, { key, dtype: t.dtype });
    };
    for (const v of variables) slot(v, `var:${v.name}`);
    for (const [k, t] of Object.entries(inputs)) slot(t, `input:${k}`);
    for (const [k, t] of Object.entries(scalars)) slot(t, `scalar:${k}`);
    const before = variables.map((v) => adapter.keyOf(v));
    const { result: out, ...recorded } = adapter.record(() => this.eager(inputs, scalars));
    const assigned = variables.filter((v, i) => adapter.keyOf(v) !== before[i]);
    const outputs = Object.keys(out);
    const named = [
      ...assigned.map((v) => ({ name: `var:${v.name}`, key: adapter.keyOf(v) })),
      ...outputs.map((k) => ({ name: `output:${k}`, key: adapter.keyOf(out[k]!) })),
    ];
    const labels = new Map([...slots].map(([k, s]) => [k, s.key]));
    // The eager call has run (variables assigned): from here nothing may throw, or the caller
    // would lose its result and count no step. A recording that cannot be described is unusable.
    let description: string[] = [];
    let unusable = aliased && `two inputs of the step are one tensor (${aliased})`;
    try {
      description = adapter.describe(recorded.recording, labels, named);
    } catch (err) {
      unusable ??= `the recording could not be read (${adapter.explain(err, recorded.recording)})`;
    }
    const returned = [...assigned, ...outputs.map((k) => out[k]!)];
    const recording: Recording<K, R> = {
      recorded,
      description,
      slots,
      assigned,
      outputs,
      fetches: named.map((n, i) => ({ key: n.key, shape: [...returned[i]!.shape], dtype: returned[i]!.dtype })),
      signature: signatureOf(inputs, scalars),
      ...(unusable ? { unusable } : {}),
    };
    return { out, recording };
  }

  private runCompiled(compiled: Compiled<R, P>, inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>>): Tensors {
    const feeds = this.adapter.feedsOf(compiled.plan).map((key) => {
      const t = key.startsWith("var:") ? compiled.fedVariables.get(key) : key.startsWith("input:") ? inputs[key.slice(6)] : scalars[key.slice(7)];
      if (!t) throw new Error(`nothing to feed for ${key}`);
      return t;
    });
    const values = this.adapter.run(compiled.plan, feeds);
    // Every new value checked before any is assigned: a run either updates all variables or none.
    const wrong = compiled.assigned.findIndex((v, i) => v.dtype !== values[i]!.dtype || !tf.util.arraysEqual(v.shape, values[i]!.shape));
    if (wrong >= 0) {
      tf.dispose(values);
      throw new Error(`the new value of ${compiled.assigned[wrong]!.name} has another shape or dtype than the variable`);
    }
    compiled.assigned.forEach((v, i) => {
      v.assign(values[i]!);
      values[i]!.dispose();
    });
    const n = compiled.assigned.length;
    return Object.fromEntries(compiled.outputs.map((k, i) => [k, values[n + i]!]));
  }
}

function registeredVariables(): tf.Variable[] {
  return Object.values((tf.engine() as unknown as { state: { registeredVariables: Record<string, tf.Variable> } }).state.registeredVariables);
}

function signatureOf(inputs: Tensors, scalars: Readonly<Record<string, tf.Scalar>>): string {
  const part = (o: Tensors) => Object.entries(o).map(([k, t]) => `${k}:${t.dtype}[${t.shape.join(",")}]`).sort().join(" ");
  return `${part(inputs)} | ${part(scalars)}`;
}

/** Why two recordings cannot share one compiled form, or undefined when they can. */
function differences<K, R>(a: Recording<K, R>, b: Recording<K, R>): string | undefined {
  if (a.unusable ?? b.unusable) return (a.unusable ?? b.unusable)!;
  const reads = b.recorded;
  if (reads.hostReads > 0) return `the step reads ${reads.hostReads} value(s) back to JavaScript while it runs${reads.firstReadAt ? ` (first in ${reads.firstReadAt})` : ""}`;
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
