// The parts of @tensorflow/tfjs-node's backend that compiling a training step into one TensorFlow
// graph needs, typed. They are internals of tfjs-node 4.22.0 (the version `vlmc setup native`
// builds): the N-API binding (`backend.binding`), the map from a tfjs tensor to the binding's
// tensor id (`getInputTensorIds`), the wrapping of a binding result as a tfjs tensor
// (`createOutputTensor`), and the generated protobuf classes tfjs-node ships for reading
// SavedModels (`dist/proto/api_pb.js`). `nodeBackend()` checks for each before anyone relies on it,
// so a tfjs-node that changed them makes steps run op by op instead of failing.
import * as tf from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadedNativeEntry, defaultNativeLoader } from "../backend.js";

/** An op attribute as tfjs-node passes it to the binding (`type` is a TF_AttrType). */
export interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

/** What the binding returns for each output tensor (`dtype` is a TF_DataType). */
export interface OutputMeta {
  id: number;
  shape: number[];
  dtype: number;
}

export interface Binding {
  executeOp(op: string, attrs: OpAttr[], inputs: number[], numOutputs: number): OutputMeta[];
  createTensor(shape: number[], dtype: number, values: unknown): number;
  tensorDataSync(id: number): ArrayBufferView;
  loadSavedModel(exportDir: string, tags: string): number;
  runSavedModel(id: number, inputIds: number[], inputNames: string, outputNames: string): OutputMeta[];
  deleteSavedModel(id: number): void;
  /** tfjs-node-gpu with a GPU found. */
  isUsingGpuDevice?(): boolean;
  readonly TF_ATTR_STRING: number;
  readonly TF_ATTR_INT: number;
  readonly TF_ATTR_FLOAT: number;
  readonly TF_ATTR_BOOL: number;
  readonly TF_ATTR_TYPE: number;
  readonly TF_ATTR_SHAPE: number;
}

export interface NodeBackend {
  binding: Binding;
  getInputTensorIds(tensors: tf.TensorInfo[]): number[];
  createOutputTensor(meta: OutputMeta): tf.Tensor;
}

/** The active backend as tfjs-node's, or undefined when it is not (or lacks what we use). */
export function nodeBackend(): NodeBackend | undefined {
  if (tf.getBackend() !== "tensorflow") return undefined;
  const backend = tf.backend() as unknown as Partial<NodeBackend>;
  const binding = backend.binding as Partial<Binding> | undefined;
  const has = (o: object | undefined, name: string) => typeof (o as Record<string, unknown> | undefined)?.[name] === "function";
  const ok =
    binding !== undefined &&
    ["executeOp", "createTensor", "tensorDataSync", "loadSavedModel", "runSavedModel", "deleteSavedModel"].every((f) => has(binding, f)) &&
    has(backend, "getInputTensorIds") &&
    has(backend, "createOutputTensor");
  return ok ? (backend as NodeBackend) : undefined;
}

/** TF_DataType of a tfjs dtype (the ones a training step carries). */
export function tfDataType(dtype: string): number | undefined {
  return ({ float32: 1, int32: 3, bool: 10 } as Record<string, number>)[dtype];
}

/** The generated protobuf classes, only the messages a SavedModel of a plain graph needs. */
export interface GraphProtos {
  SavedModel: new () => ProtoMessage;
  MetaGraphDef: (new () => ProtoMessage) & { MetaInfoDef: new () => ProtoMessage };
  GraphDef: new () => ProtoMessage;
  VersionDef: new () => ProtoMessage;
  NodeDef: new () => ProtoMessage;
  AttrValue: (new () => ProtoMessage) & { ListValue: new () => ProtoMessage };
  TensorShape: (new () => ProtoMessage) & { Dim: new () => ProtoMessage };
  Tensor: new () => ProtoMessage;
}
// google-protobuf's generated messages: setters by field name, a map accessor, serializeBinary.
export type ProtoMessage = Record<string, (...args: never[]) => unknown> & {
  serializeBinary(): Uint8Array;
  getAttrMap(): { set(key: string, value: ProtoMessage): void };
};

let protos: GraphProtos | undefined;

/**
 * tfjs-node's own protobuf classes (`dist/proto/api_pb.js`, with google-protobuf from its
 * dependencies): found beside the native package this process loaded, else beside the first one
 * `--backend auto` would load. Throws when none is found.
 */
export function graphProtos(): GraphProtos {
  if (protos) return protos;
  const entries = [loadedNativeEntry(), ...defaultNativeLoader.candidates().map((c) => c.entry)].filter((e): e is string => e !== undefined);
  for (const entry of entries) {
    const root = packageRoot(entry);
    const file = root && join(root, "dist", "proto", "api_pb.js");
    if (!file || !existsSync(file)) continue;
    const module = createRequire(file)(file) as GraphProtos;
    if (typeof module.SavedModel === "function" && typeof module.NodeDef === "function") return (protos = module);
  }
  throw new Error("tfjs-node's protobuf classes (dist/proto/api_pb.js) were not found beside the native package");
}

/** The directory of the tfjs-node package that holds `entry`. */
function packageRoot(entry: string): string | undefined {
  for (let dir = dirname(entry); dirname(dir) !== dir; dir = dirname(dir)) {
    const pkg = join(dir, "package.json");
    if (!existsSync(pkg)) continue;
    try {
      const name = (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name;
      if (name === "@tensorflow/tfjs-node" || name === "@tensorflow/tfjs-node-gpu") return dir;
    } catch {
      // An unreadable package.json on the way up: keep climbing.
    }
  }
  return undefined;
}
