// The IR under construction: nodes, parameters and the module tree, appended in program order
// so the result is topologically sorted and deterministic.
import { OP_TABLE } from "../ir.js";
import type { AttrValue, DType, Init, IRModuleInfo, IRNode, IRParam, OpName, Shape, Span } from "../ir.js";
import type { TensorValue } from "./values.js";

/** More nodes than this is reported as an error instead of exhausting memory. */
export const MAX_NODES = 200_000;

export class NodeLimitExceeded extends Error {
  constructor(readonly span: Span) {
    super("node limit exceeded");
  }
}

export class GraphBuilder {
  readonly nodes: IRNode[] = [];
  readonly params: IRParam[] = [];
  readonly modules: IRModuleInfo[] = [];
  private readonly paramNames = new Set<string>();
  /** > 0 while elaborating under `frozen`: every parameter declared then is not trainable. */
  frozenDepth = 0;

  addNode(
    op: OpName,
    inputs: TensorValue[],
    attrs: Record<string, AttrValue>,
    params: Record<string, string>,
    shape: Shape,
    dtype: DType,
    module: string,
    span: Span,
  ): TensorValue {
    if (this.nodes.length >= MAX_NODES) throw new NodeLimitExceeded(span);
    // Attributes in the order the op table lists them, so the JSON is stable.
    const ordered: Record<string, AttrValue> = {};
    for (const key of Object.keys(OP_TABLE[op].attrs)) if (key in attrs) ordered[key] = attrs[key]!;
    const id = `n${this.nodes.length}`;
    this.nodes.push({ id, op, inputs: inputs.map((t) => t.node), attrs: ordered, params, shape, dtype, module, span });
    return { kind: "tensor", node: id, shape, dtype };
  }

  /** Declares a parameter `<module>.<role>` and returns its name. */
  addParam(module: string, role: string, shape: number[], init: Init, trainable = true): string {
    let name = module ? `${module}.${role}` : role;
    // Module names are unique per scope, so a clash means two roles share a module: keep both.
    for (let i = 1; this.paramNames.has(name); i++) name = `${module ? module + "." : ""}${role}_${i}`;
    this.paramNames.add(name);
    this.params.push({ name, shape, init, trainable: trainable && this.frozenDepth === 0 });
    return name;
  }

  /** Registers a module; its output shape, parameter and FLOP counts are filled in later. */
  addModule(info: Omit<IRModuleInfo, "shape" | "params" | "flops">): IRModuleInfo {
    const entry: IRModuleInfo = { ...info, shape: [], params: 0, flops: 0 };
    // Keep the documented key order: path, kind, block, args, argSources, shape, params, flops, span.
    const ordered: IRModuleInfo = {
      path: entry.path,
      kind: entry.kind,
      block: entry.block,
      args: entry.args,
      argSources: entry.argSources,
      shape: entry.shape,
      params: 0,
      flops: 0,
      span: entry.span,
    };
    this.modules.push(ordered);
    return ordered;
  }
}
