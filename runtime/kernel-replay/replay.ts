// A recorded call (record.ts) replayed on the wasm backend without tfjs's engine: each kernel's
// function is called directly with the current data, in the recorded order, and each
// intermediate's data is freed right after its last use. What this skips is everything tfjs does
// around a kernel in an eager call — the gradient tape, tidy scopes, tensor bookkeeping, the
// gradient functions' own JavaScript — 9–18% of a profiled wasm training step. The kernels are the same
// functions with the same inputs in the same order, so the results are the same to the bit.
import * as tf from "@tensorflow/tfjs-core";
import type { TensorInfo } from "@tensorflow/tfjs-core";
import type { Fetch, Slot } from "../step-graph/traced-function.js";
import type { KernelRecording, TensorMeta } from "./record.js";

/** Where a kernel input comes from at replay time. */
type Source = { handle: number } | { feed: number } | { constant: object };

interface ReplayStep {
  name: string;
  arrayInputs: boolean;
  attrs: unknown;
  inputs: { name: string; from: Source; meta: TensorMeta }[];
  /** Handles of the outputs, in order, with the shapes they had when recorded. */
  outputs: number[];
  shapes: number[][];
  /** Handles whose data is freed after this step. */
  release: number[];
}

export interface ReplayPlan {
  /** Slot keys in feed order. */
  feeds: string[];
  steps: ReplayStep[];
  handles: number;
  /** The fetched values: handles (owned by the caller once returned) with their shape and dtype. */
  fetches: ({ handle: number } & TensorMeta)[];
  /** Constants the plan wrote (the call's own, and copies of outside tensors): freed on release. */
  constants: object[];
  /** The wasm backend the plan's data lives on (taken when built, whatever is active later). */
  backend: WasmBackendData;
}

interface WasmBackendData {
  write(values: unknown, shape: number[], dtype: string): object;
  readSync(dataId: object): ArrayBufferView;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * The plan of `recording`. `slots` names the data ids fed each call; any other outside tensor is
 * copied once as a constant. `fetches` are the data to return, in order, as tensors of the given
 * shape and dtype; each must come from a recorded kernel, and each only once (else it throws and
 * the caller runs op by op).
 */
export function buildReplay(recording: KernelRecording, slots: ReadonlyMap<object, Slot>, fetches: readonly Fetch<object>[]): ReplayPlan {
  const backend = tf.findBackend("wasm") as unknown as WasmBackendData | undefined;
  if (!backend) throw new Error("the wasm backend is not there");
  const feeds: string[] = [];
  const feedIndex = new Map<object, number>();
  const constants = new Map<object, object>();
  const producer = new Map<object, number>();
  const steps: ReplayStep[] = [];
  let handles = 0;
  const plan: ReplayPlan = { feeds, steps, handles: 0, fetches: [], constants: [], backend };
  try {
    const source = (dataId: object, meta: TensorMeta): Source => {
      const handle = producer.get(dataId);
      if (handle !== undefined) return { handle };
      const slot = slots.get(dataId);
      if (slot) {
        if (!feedIndex.has(dataId)) {
          feedIndex.set(dataId, feeds.length);
          feeds.push(slot.key);
        }
        return { feed: feedIndex.get(dataId)! };
      }
      let copy = constants.get(dataId);
      if (!copy) {
        const written = recording.writes.get(dataId);
        // The call's own constant, or a tensor made before it (a constant the model keeps): its value.
        copy = written ? backend.write(written.values, written.shape, written.dtype) : backend.write(backend.readSync(dataId), meta.shape, meta.dtype);
        constants.set(dataId, copy);
        plan.constants.push(copy);
      }
      return { constant: copy };
    };
    for (const call of recording.calls) {
      const inputs = call.inputs.map((i) => ({ name: i.name, from: source(i.dataId, i.meta), meta: i.meta }));
      const outputs = call.outputs.map((o) => {
        const handle = handles++;
        producer.set(o.dataId, handle);
        return handle;
      });
      steps.push({ name: call.name, arrayInputs: call.arrayInputs, attrs: call.attrs, inputs, outputs, shapes: call.outputs.map((o) => o.shape), release: [] });
    }
    const fetched = new Set<number>();
    for (const f of fetches) {
      // The latest kernel that made this data; a reshape shares data under another shape, so the
      // returned tensor's own shape is what the caller gave.
      const handle = producer.get(f.key);
      if (handle === undefined) throw new Error("a value to return was not made by a recorded kernel");
      if (fetched.has(handle)) throw new Error("one value is returned twice");
      fetched.add(handle);
      plan.fetches.push({ handle, shape: f.shape, dtype: f.dtype });
    }
    // Each handle holds one reference to its data (a kernel that shares its input's data adds
    // one); it is released after its last use, unless it is returned.
    const lastUse = new Array<number>(handles).fill(-1);
    steps.forEach((step, i) => {
      step.outputs.forEach((h) => (lastUse[h] = i));
      for (const input of step.inputs) if ("handle" in input.from) lastUse[input.from.handle] = i;
    });
    lastUse.forEach((i, h) => {
      if (!fetched.has(h)) steps[i]!.release.push(h);
    });
    plan.handles = handles;
    return plan;
  } catch (err) {
    releaseReplay(plan);
    throw err;
  }
}

/**
 * Runs the plan on `feeds` (tensors in plan.feeds order); returns the fetched values as tensors.
 * Throws, with nothing left behind, when a kernel's output has another shape than recorded (a
 * kernel whose output shape depends on the data, such as Unique): the caller then runs op by op.
 */
export function runReplay(plan: ReplayPlan, feeds: readonly tf.Tensor[]): tf.Tensor[] {
  // A kernel that makes tfjs tensors of its own would have them freed by the eager call's tidy.
  return tf.tidy(() => replaySteps(plan, feeds));
}

function replaySteps(plan: ReplayPlan, feeds: readonly tf.Tensor[]): tf.Tensor[] {
  const backend = plan.backend;
  const values = new Array<TensorInfo | undefined>(plan.handles);
  try {
    for (const step of plan.steps) {
      const inputs: Record<string, TensorInfo> | TensorInfo[] = step.arrayInputs ? [] : {};
      for (const input of step.inputs) {
        const from = input.from;
        const dataId = "handle" in from ? values[from.handle]!.dataId : "feed" in from ? feeds[from.feed]!.dataId : from.constant;
        // The recorded shape: a reshape shares its input's data under another shape.
        (inputs as Record<string, TensorInfo>)[input.name] = { dataId, shape: input.meta.shape, dtype: input.meta.dtype as tf.DataType };
      }
      const kernel = tf.getKernel(step.name, "wasm");
      if (!kernel) throw new Error(`kernel ${step.name} is no longer registered for wasm`);
      const out = kernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend: backend as unknown as tf.KernelBackend, attrs: step.attrs as tf.NamedAttrMap });
      const outs = Array.isArray(out) ? out : [out];
      step.outputs.forEach((h, k) => (values[h] = outs[k]));
      step.shapes.forEach((shape, k) => {
        if (!tf.util.arraysEqual(outs[k]!.shape, shape)) throw new Error(`${step.name} made [${outs[k]!.shape.join(",")}] where the recording had [${shape.join(",")}]: its output shape depends on the data`);
      });
      for (const h of step.release) {
        backend.disposeData(values[h]!.dataId);
        values[h] = undefined;
      }
    }
    const engine = tf.engine() as unknown as { makeTensorFromTensorInfo(info: TensorInfo): tf.Tensor };
    return plan.fetches.map((f) => {
      const t = engine.makeTensorFromTensorInfo({ dataId: values[f.handle]!.dataId, shape: f.shape, dtype: f.dtype as tf.DataType });
      values[f.handle] = undefined;
      return t;
    });
  } catch (err) {
    for (const v of values) if (v) backend.disposeData(v.dataId);
    throw err;
  }
}

export function releaseReplay(plan: ReplayPlan): void {
  for (const dataId of plan.constants) plan.backend.disposeData(dataId);
  plan.constants = [];
}
