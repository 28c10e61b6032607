// Recording what one eager training step asks native TensorFlow to do. tfjs-node runs every kernel
// as one binding call — executeOp(TF op name, TF attributes, input tensor ids) — and makes every
// tensor that starts in JavaScript with createTensor(shape, dtype, values). Watching those two calls
// (and the tensor ids tfjs-node looks up for each op's inputs, with their shapes and dtypes) yields
// the step as a list of TensorFlow ops: the body of a graph (graph-def.ts). The recording changes
// nothing: every call still runs, so a traced step is an ordinary eager step.
import { contentLabel, readSite } from "../step-graph/labels.js";
import type { Binding, NodeBackend, OpAttr, OutputMeta } from "./tfjs-node.js";
import { tfDataType } from "./tfjs-node.js";

export interface TracedOp {
  op: string;
  attrs: OpAttr[];
  inputs: number[];
  outputs: number[];
}

/** A tensor the step made from JavaScript values: a constant of the graph. */
export interface TracedConst {
  shape: number[];
  /** TF_DataType. */
  dtype: number;
  bytes: Uint8Array;
}

export interface Trace {
  ops: TracedOp[];
  /** By tensor id, in the order they were made. */
  consts: Map<number, TracedConst>;
  /** Shape and tfjs dtype of every tensor id an op took as input. */
  inputInfo: Map<number, { shape: number[]; dtype: string }>;
  /** Values read back to JavaScript during the step: the step may have branched on them. */
  hostReads: number;
  /** The code that made the first read ("GatherV2.js:30:35"), for the message. */
  firstReadAt?: string;
}

/** Runs `body` with the backend's binding calls recorded. */
export function traceStep<T>(backend: NodeBackend, body: () => T): { result: T; trace: Trace } {
  const trace: Trace = { ops: [], consts: new Map(), inputInfo: new Map(), hostReads: 0 };
  const binding = backend.binding;
  const getInputTensorIds = backend.getInputTensorIds;
  // The N-API binding's functions are read-only properties, so the backend gets a stand-in
  // object for the duration of the step, with every other member passed through.
  const recording = Object.create(null) as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(binding)) {
    const member = (binding as unknown as Record<string, unknown>)[key];
    recording[key] = typeof member === "function" ? (member as (...a: unknown[]) => unknown).bind(binding) : member;
  }
  recording["executeOp"] = (op: string, attrs: OpAttr[], inputs: number[], numOutputs: number): OutputMeta[] => {
    const out = binding.executeOp(op, attrs, inputs, numOutputs);
    trace.ops.push({ op, attrs, inputs: [...inputs], outputs: out.map((o) => o.id) });
    return out;
  };
  recording["createTensor"] = (shape: number[], dtype: number, values: unknown): number => {
    const id = binding.createTensor(shape, dtype, values);
    if (ArrayBuffer.isView(values)) {
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
      trace.consts.set(id, { shape: [...shape], dtype, bytes });
    } else {
      // String tensors: nothing a training step makes; the graph cannot hold them (untraceable).
      trace.hostReads++;
    }
    return id;
  };
  recording["tensorDataSync"] = (id: number): ArrayBufferView => {
    trace.hostReads++;
    // Where: reads are rare and each one costs the graph, so the reason names the first.
    trace.firstReadAt ??= readSite(new Error().stack ?? "", /native-graph[\\/]trace\.|nodejs_kernel_backend\.js/);
    return binding.tensorDataSync(id);
  };
  backend.binding = recording as unknown as Binding;
  backend.getInputTensorIds = (tensors) => {
    const ids = getInputTensorIds.call(backend, tensors);
    ids.forEach((id, i) => trace.inputInfo.set(id, { shape: [...tensors[i]!.shape], dtype: tensors[i]!.dtype }));
    return ids;
  };
  try {
    return { result: body(), trace };
  } finally {
    backend.binding = binding;
    backend.getInputTensorIds = getInputTensorIds;
  }
}

/**
 * The trace as text lines with every tensor id replaced by what it stands for: `$name` for a
 * slot (a variable, an input, a per-step scalar), `%op:output` for an op's result, and for a
 * constant — made in the step, or made before it and read with `readOutside` — its dtype, shape
 * and a hash of its bytes (`@id` for an outside tensor that cannot be read). Two steps whose
 * descriptions are equal ran the same graph with the same constants: only the slots' values
 * differed. (By content, not by origin: a tensor made from JavaScript before the first step but
 * first used in it is uploaded inside that step, and is an outside tensor in the next.)
 */
export function describeTrace(
  trace: Trace,
  slots: ReadonlyMap<number, string>,
  fetches: readonly { name: string; id: number }[],
  readOutside?: (id: number) => ArrayBufferView,
): string[] {
  const lines: string[] = [];
  const label = new Map<number, string>();
  for (const [id, c] of trace.consts) label.set(id, contentLabel(c.dtype, c.shape, c.bytes));
  const name = (id: number): string => {
    const slot = slots.get(id);
    if (slot !== undefined) return `$${slot}`;
    const known = label.get(id);
    if (known) return known;
    const info = trace.inputInfo.get(id);
    const data = info && readOutside?.(id);
    const outside = info && data ? contentLabel(tfDataType(info.dtype), info.shape, data) : `@${id}`;
    label.set(id, outside);
    return outside;
  };
  trace.ops.forEach((op, i) => {
    lines.push(`${op.op} ${JSON.stringify(op.attrs)} <- ${op.inputs.map(name).join(" ")}`);
    op.outputs.forEach((id, k) => label.set(id, `%${i}:${k}`));
  });
  for (const f of fetches) lines.push(`fetch ${f.name} <- ${name(f.id)}`);
  return lines;
}
