// Recording what one eager call asks the wasm backend to do, at the level of tfjs's kernels: every
// `engine.runKernel` (kernel name, input data ids with their shapes and dtypes, attributes,
// outputs), every tensor made from JavaScript values outside a kernel (`backend.write`: a
// constant), and every value read back outside a kernel (`backend.readSync`). Calls are kept in
// the order they start: the engine itself runs Identity inside a kernel call, after the kernel, to
// keep copies of its inputs and outputs for the gradient (with the stock Identity those copies are
// new data that later kernels read), and those must follow the kernel. (No kernel of wasm's or
// ours runs engine.runKernel from inside its own function; one that did would be replayed twice,
// the inner copy unused.) The recording changes nothing: every call still runs, so a recorded call
// is an ordinary eager call.
import * as tf from "@tensorflow/tfjs-core";
import { readSite } from "../step-graph/labels.js";

export interface TensorMeta {
  shape: number[];
  dtype: string;
}

export interface KernelCall {
  name: string;
  /** Concat, AddN and the like take their inputs as an array, not by name. */
  arrayInputs: boolean;
  /** Input name (or index) → data id and what the kernel saw. */
  inputs: { name: string; dataId: object; meta: TensorMeta }[];
  attrs: unknown;
  outputs: ({ dataId: object } & TensorMeta)[];
}

/** Values the call made from JavaScript: a constant of the recording. */
export interface WrittenConst extends TensorMeta {
  values: ArrayBufferView;
}

export interface KernelRecording {
  calls: KernelCall[];
  writes: Map<object, WrittenConst>;
  hostReads: number;
  firstReadAt?: string;
}

/** The parts of tfjs's engine and of the wasm backend the recording watches. */
interface Watched {
  runKernel(name: string, inputs: unknown, attrs: unknown): tf.Tensor | tf.Tensor[];
}
interface WatchedBackend {
  write(values: unknown, shape: number[], dtype: string): object;
  readSync(dataId: object): unknown;
}

/** Runs `body` with its kernels recorded. */
export function recordKernels<T>(body: () => T): { result: T; recording: KernelRecording } {
  const recording: KernelRecording = { calls: [], writes: new Map(), hostReads: 0 };
  const engine = tf.engine() as unknown as Watched;
  const backend = tf.backend() as unknown as WatchedBackend;
  const runKernel = engine.runKernel;
  const write = backend.write;
  const readSync = backend.readSync;
  let depth = 0;
  // Own properties shadow the prototype's methods for the duration of the call.
  engine.runKernel = function (name: string, inputs: unknown, attrs: unknown) {
    // An optional input left out (a batch norm without scale) is undefined: not an input.
    const given = Object.entries(inputs as Record<string, tf.Tensor | undefined>).filter((e): e is [string, tf.Tensor] => e[1] != null);
    const call: KernelCall = {
      name,
      arrayInputs: Array.isArray(inputs),
      inputs: given.map(([k, t]) => ({ name: k, dataId: t.dataId, meta: { shape: [...t.shape], dtype: t.dtype } })),
      attrs,
      outputs: [],
    };
    const at = recording.calls.push(call) - 1;
    depth++;
    try {
      const out = runKernel.call(this, name, inputs, attrs);
      call.outputs = (Array.isArray(out) ? out : [out]).map((t) => ({ dataId: t.dataId, shape: [...t.shape], dtype: t.dtype }));
      return out;
    } catch (err) {
      recording.calls.splice(at);
      throw err;
    } finally {
      depth--;
    }
  };
  backend.write = function (values: unknown, shape: number[], dtype: string) {
    const dataId = write.call(this, values, shape, dtype);
    if (depth === 0) {
      if (ArrayBuffer.isView(values)) recording.writes.set(dataId, { values: copyOf(values), shape: [...shape], dtype });
      else recording.hostReads++; // string tensors: nothing a replay can hold (never in a training step)
    }
    return dataId;
  };
  backend.readSync = function (dataId: object) {
    if (depth === 0) {
      recording.hostReads++;
      recording.firstReadAt ??= readSite(new Error().stack ?? "", /kernel-replay[\\/]record\.|tfjs-backend-wasm|tf-backend-wasm/);
    }
    return readSync.call(this, dataId);
  };
  try {
    return { result: body(), recording };
  } finally {
    delete (engine as Partial<Watched>).runKernel;
    delete (backend as Partial<WatchedBackend>).write;
    delete (backend as Partial<WatchedBackend>).readSync;
    restore(engine, "runKernel", runKernel);
    restore(backend, "write", write);
    restore(backend, "readSync", readSync);
  }
}

/** Puts `original` back where it was an own property (rather than the prototype's). */
function restore<O extends object>(object: O, key: string, original: unknown): void {
  if ((object as Record<string, unknown>)[key] !== original) (object as Record<string, unknown>)[key] = original;
}

function copyOf(values: ArrayBufferView): ArrayBufferView {
  return (values as unknown as { slice(): ArrayBufferView }).slice();
}
