// wasm's way to run a recorded function (runtime/step-graph/): the recorded kernels replayed
// without tfjs's engine (replay.ts), the same kernels on the same data in the same order, so the
// results are the same to the bit. `VLMC_WASM_REPLAY=0` turns it off.
import * as tf from "@tensorflow/tfjs-core";
import { contentLabel } from "../step-graph/labels.js";
import { TracedFunction, type GraphAdapter, type GraphBody, type TracedFunctionOptions } from "../step-graph/traced-function.js";
import { recordKernels, type KernelRecording } from "./record.js";
import { buildReplay, releaseReplay, runReplay, type ReplayPlan } from "./replay.js";

/** Whether replay is wanted: on unless VLMC_WASM_REPLAY=0. */
export function kernelReplayEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env["VLMC_WASM_REPLAY"] !== "0";
}

/**
 * Whether functions could be replayed here: the wasm backend active, replay not switched off, and
 * tfjs's DEBUG mode off (its per-kernel checks live in the engine, which a replay skips).
 */
export function kernelReplayAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return kernelReplayEnabled(env) && tf.getBackend() === "wasm" && !tf.env().getBool("DEBUG");
}

export const kernelReplayAdapter: GraphAdapter<object, KernelRecording, ReplayPlan> = {
  backend: "wasm",
  form: "one replayed kernel sequence",
  unit: "kernels",
  switchName: "VLMC_WASM_REPLAY",
  keyOf: (t) => t.dataId,
  record(body) {
    const { result, recording } = recordKernels(body);
    return { result, recording, hostReads: recording.hostReads, ...(recording.firstReadAt ? { firstReadAt: recording.firstReadAt } : {}) };
  },
  describe: describeKernels,
  build: buildReplay,
  feedsOf: (plan) => plan.feeds,
  sizeOf: (plan) => plan.steps.length,
  run: runReplay,
  explain: (err) => (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ").trim(),
  release: releaseReplay,
};

/**
 * The recording as text lines: each kernel with its attributes and its inputs as `$slot`,
 * `%call:output`, or — for a constant the call made and for any other tensor made before it — its
 * dtype, shape and a hash of its values (see describeTrace in runtime/native-graph/trace.ts, the
 * same rule for native TensorFlow).
 */
export function describeKernels(recording: KernelRecording, slots: ReadonlyMap<object, string>, fetches: readonly { name: string; key: object }[]): string[] {
  const backend = tf.backend() as unknown as { readSync(dataId: object): ArrayBufferView };
  const label = new Map<object, string>();
  for (const [dataId, w] of recording.writes) label.set(dataId, contentLabel(w.dtype, w.shape, w.values));
  const name = (dataId: object, shape: readonly number[], dtype: string): string => {
    const slot = slots.get(dataId);
    if (slot !== undefined) return `$${slot}`;
    let known = label.get(dataId);
    if (!known) {
      known = contentLabel(dtype, shape, backend.readSync(dataId));
      label.set(dataId, known);
    }
    return known;
  };
  const lines = recording.calls.map((call, i) => {
    const line = `${call.name} ${JSON.stringify(call.attrs)} <- ${call.inputs.map((x) => `${x.name}=${name(x.dataId, x.meta.shape, x.meta.dtype)}[${x.meta.shape.join(",")}]`).join(" ")}`;
    call.outputs.forEach((o, k) => label.set(o.dataId, `%${i}:${k}`));
    return line;
  });
  for (const f of fetches) lines.push(`fetch ${f.name} <- ${label.get(f.key) ?? slots.get(f.key) ?? "?"}`);
  return lines;
}

/** A function replayed kernel by kernel on wasm after two recorded calls (runtime/step-graph/). */
export class KernelReplayFunction extends TracedFunction<object, KernelRecording, ReplayPlan> {
  constructor(body: GraphBody, options: TracedFunctionOptions) {
    super(kernelReplayAdapter, body, options);
  }
}
