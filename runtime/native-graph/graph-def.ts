// A traced step (trace.ts) as a TensorFlow graph, serialised as a SavedModel that tfjs-node's
// binding can load (`loadSavedModel`) and run (`runSavedModel`): TensorFlow's own session then
// executes the whole step — no per-op trip through JavaScript and the eager runtime (~10 µs an op,
// most of a small model's step), with TensorFlow's graph optimisations (constant folding, op
// fusion, oneDNN's graph rewrites) and independent ops run side by side.
//
// The graph: a Placeholder per slot the step read (variables, inputs, per-step scalars), a Const
// per distinct constant, one node per traced op with its attributes as the binding set them, and
// as outputs the new values of the variables the step assigned and the loss. No variables live in
// the graph: state goes in and comes out as tensors, so the session holds nothing between runs.
import { contentLabel } from "../step-graph/labels.js";
import type { Binding, GraphProtos, OpAttr, ProtoMessage } from "./tfjs-node.js";
import { tfDataType } from "./tfjs-node.js";
import type { Trace } from "./trace.js";
import type { Slot } from "../step-graph/traced-function.js";


export interface BuiltGraph {
  /** The SavedModel's bytes (saved_model.pb; there is no variables directory). */
  savedModel: Uint8Array;
  /** The slots to feed, in the order of `inputNames`. */
  feeds: string[];
  /** "node:0,…" as runSavedModel takes them. */
  inputNames: string;
  outputNames: string;
  nodes: number;
}

/** GraphDef version: what TensorFlow 2.9–2.21 write; only used to pick op semantics by age. */
const GRAPH_PRODUCER = 1286;

/**
 * Builds the graph of `trace`. `slots` names the tensor ids that existed before the step and
 * change from step to step; any other outside tensor the step used is read once with
 * `binding.tensorDataSync` and becomes a constant. `fetches` are the ids to return, in order.
 */
export function buildGraph(pb: GraphProtos, binding: Binding, trace: Trace, slots: ReadonlyMap<number, Slot>, fetches: readonly number[]): BuiltGraph {
  const nodes: ProtoMessage[] = [];
  const names = new Map<number, string>();
  const constByContent = new Map<string, string>();
  const feeds: { key: string; node: string }[] = [];

  const add = (name: string, op: string, inputs: string[], attrs: [string, ProtoMessage][]) => {
    const node = new pb.NodeDef();
    node.setName!(name as never);
    node.setOp!(op as never);
    node.setInputList!(inputs as never);
    const map = node.getAttrMap();
    for (const [key, value] of attrs) map.set(key, value);
    nodes.push(node);
  };
  const typeAttr = (dtype: number) => {
    const v = new pb.AttrValue();
    v.setType!(dtype as never);
    return v;
  };
  const shapeProto = (dims: readonly number[]) => {
    const shape = new pb.TensorShape();
    shape.setDimList!(dims.map((size) => {
      const dim = new pb.TensorShape.Dim();
      dim.setSize!(size as never);
      return dim;
    }) as never);
    return shape;
  };
  const attrValue = (attr: OpAttr): ProtoMessage => {
    const v = new pb.AttrValue();
    const b = binding;
    // A shape is an array too, but not a list attribute.
    if (attr.type === b.TF_ATTR_SHAPE) {
      v.setShape!(shapeProto(attr.value as number[]) as never);
      return v;
    }
    if (Array.isArray(attr.value) || ArrayBuffer.isView(attr.value)) {
      const list = new pb.AttrValue.ListValue();
      const values = Array.from(attr.value as ArrayLike<unknown>);
      const setter = ({ [b.TF_ATTR_INT]: "setIList", [b.TF_ATTR_FLOAT]: "setFList", [b.TF_ATTR_BOOL]: "setBList", [b.TF_ATTR_TYPE]: "setTypeList" } as Record<number, string>)[attr.type];
      if (!setter) throw new Error(`attribute ${attr.name}: a list of TF_AttrType ${attr.type} is not supported`);
      list[setter]!(values as never);
      v.setList!(list as never);
      return v;
    }
    switch (attr.type) {
      case b.TF_ATTR_STRING: v.setS!(Buffer.from(String(attr.value)) as never); break;
      case b.TF_ATTR_INT: v.setI!(attr.value as never); break;
      case b.TF_ATTR_FLOAT: v.setF!(attr.value as never); break;
      case b.TF_ATTR_BOOL: v.setB!(attr.value as never); break;
      case b.TF_ATTR_TYPE: v.setType!(attr.value as never); break;
      default: throw new Error(`attribute ${attr.name}: TF_AttrType ${attr.type} is not supported`);
    }
    return v;
  };
  const constant = (shape: readonly number[], dtype: number, bytes: Uint8Array): string => {
    const key = contentLabel(dtype, shape, bytes);
    const known = constByContent.get(key);
    if (known) return known;
    const name = `const_${constByContent.size}`;
    const tensor = new pb.Tensor();
    tensor.setDtype!(dtype as never);
    tensor.setTensorShape!(shapeProto(shape) as never);
    tensor.setTensorContent!(bytes as never);
    const value = new pb.AttrValue();
    value.setTensor!(tensor as never);
    add(name, "Const", [], [["dtype", typeAttr(dtype)], ["value", value]]);
    constByContent.set(key, name);
    return name;
  };
  const ref = (id: number): string => {
    const known = names.get(id);
    if (known) return known;
    let name: string;
    const slot = slots.get(id);
    const traced = trace.consts.get(id);
    if (slot) {
      const dtype = tfDataType(slot.dtype);
      if (dtype === undefined) throw new Error(`input ${slot.key} has dtype ${slot.dtype}, which the graph does not take`);
      name = `feed_${feeds.length}`;
      add(name, "Placeholder", [], [["dtype", typeAttr(dtype)]]);
      feeds.push({ key: slot.key, node: name });
    } else if (traced) {
      name = constant(traced.shape, traced.dtype, traced.bytes);
    } else {
      // A tensor made before the step that is not a slot (a constant the model keeps): its value.
      const info = trace.inputInfo.get(id);
      const dtype = info && tfDataType(info.dtype);
      if (!info || dtype === undefined) throw new Error(`the step used tensor ${id}, which it neither made nor was given`);
      const data = binding.tensorDataSync(id);
      name = constant(info.shape, dtype, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    names.set(id, name);
    return name;
  };

  trace.ops.forEach((op, i) => {
    add(`op_${i}`, op.op, op.inputs.map(ref), op.attrs.map((a) => [a.name, attrValue(a)]));
    op.outputs.forEach((id, k) => names.set(id, `op_${i}:${k}`));
  });
  const outputs = fetches.map((id) => {
    const name = ref(id);
    return name.includes(":") ? name : `${name}:0`;
  });

  const graph = new pb.GraphDef();
  graph.setNodeList!(nodes as never);
  const versions = new pb.VersionDef();
  versions.setProducer!(GRAPH_PRODUCER as never);
  graph.setVersions!(versions as never);
  const info = new pb.MetaGraphDef.MetaInfoDef();
  info.setTagsList!(["serve"] as never);
  const meta = new pb.MetaGraphDef();
  meta.setMetaInfoDef!(info as never);
  meta.setGraphDef!(graph as never);
  const savedModel = new pb.SavedModel();
  savedModel.setSavedModelSchemaVersion!(1 as never);
  savedModel.setMetaGraphsList!([meta] as never);
  return {
    savedModel: savedModel.serializeBinary(),
    feeds: feeds.map((f) => f.key),
    inputNames: feeds.map((f) => `${f.node}:0`).join(","),
    outputNames: outputs.join(","),
    nodes: nodes.length,
  };
}
