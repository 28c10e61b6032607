// Native TensorFlow's way to run a recorded function (runtime/step-graph/) as one TensorFlow graph.
// tfjs-node's binding can load and run a SavedModel (`loadSavedModel`, `runSavedModel`, tensors
// going in and out by id with no copy on the CPU), so the recording (trace.ts: every op tfjs-node
// sends to TensorFlow) becomes a GraphDef (graph-def.ts), written to a temporary directory and
// loaded as a session. Each run feeds the current values in: no per-op trip through JavaScript and
// the eager runtime (~10 µs an op, most of a small model's step), with TensorFlow's graph
// optimisations (constant folding, op fusion, oneDNN's rewrites) and independent ops side by side.
// `VLMC_NATIVE_GRAPH=0` turns it off, and so does a GPU build (feeding a session copies every
// tensor to the host and back).
import type * as tf from "@tensorflow/tfjs-core";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TracedFunction, type GraphAdapter, type GraphBody, type Slot, type TracedFunctionOptions } from "../step-graph/traced-function.js";
import { buildGraph, type BuiltGraph } from "./graph-def.js";
import { graphProtos, nodeBackend, type NodeBackend } from "./tfjs-node.js";
import { describeTrace, traceStep, type Trace } from "./trace.js";

/** Whether the graph is wanted: on unless VLMC_NATIVE_GRAPH=0. */
export function nativeGraphEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env["VLMC_NATIVE_GRAPH"] !== "0";
}

/** Whether functions could run as a graph here: native TensorFlow on the CPU, not switched off. */
export function nativeGraphAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  const backend = nodeBackend();
  return nativeGraphEnabled(env) && backend !== undefined && !backend.binding.isUsingGpuDevice?.();
}

interface Session {
  id: number;
  graph: BuiltGraph;
}

/** The adapter for the active tfjs-node backend; throws when it is not active. */
export function nativeGraphAdapter(): GraphAdapter<number, Trace, Session> {
  const be: NodeBackend | undefined = nodeBackend();
  if (!be) throw new Error("the native graph needs tfjs-node's backend active");
  return {
    backend: "native TensorFlow",
    form: "one graph",
    unit: "nodes",
    switchName: "VLMC_NATIVE_GRAPH",
    keyOf: (t: tf.Tensor) => be.getInputTensorIds([t])[0]!,
    record(body) {
      const { result, trace } = traceStep(be, body);
      return { result, recording: trace, hostReads: trace.hostReads, ...(trace.firstReadAt ? { firstReadAt: trace.firstReadAt } : {}) };
    },
    describe: (trace, slots, fetches) => describeTrace(trace, slots, fetches.map((f) => ({ name: f.name, id: f.key })), (id) => be.binding.tensorDataSync(id)),
    build(trace, slots: ReadonlyMap<number, Slot>, fetches) {
      const graph = buildGraph(graphProtos(), be.binding, trace, slots, fetches.map((f) => f.key));
      const dir = mkdtempSync(join(tmpdir(), "vlmc-step-graph-"));
      try {
        writeFileSync(join(dir, "saved_model.pb"), graph.savedModel);
        return { id: be.binding.loadSavedModel(dir, "serve"), graph };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    feedsOf: (session) => session.graph.feeds,
    sizeOf: (session) => session.graph.nodes,
    run: (session, feeds) =>
      be.binding.runSavedModel(session.id, be.getInputTensorIds([...feeds]), session.graph.inputNames, session.graph.outputNames).map((m) => be.createOutputTensor(m)),
    // TensorFlow's message on one line, with each graph node it names followed by its op type.
    explain(err, trace) {
      const text = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ").trim();
      return text.replace(/\bop_(\d+)\b/g, (node, i: string) => {
        const op = trace.ops[Number(i)]?.op;
        return op ? `${node} (${op})` : node;
      });
    },
    release: (session) => be.binding.deleteSavedModel(session.id),
  };
}

/** A function run as one native TensorFlow graph after two recorded calls (runtime/step-graph/). */
export class NativeGraphFunction extends TracedFunction<number, Trace, Session> {
  constructor(body: GraphBody, options: TracedFunctionOptions) {
    super(nativeGraphAdapter(), body, options);
  }
}
