// One IR node → one TypeScript expression that calls the runtime primitives (runtime/ops/types.ts).
// This is where the IR's op table meets the `Ops` interface: op names become camelCase methods,
// parameters are passed in role order, attributes become a trailing options object.
//
// Everything written here is either a generated identifier, a number literal or a string escaped
// by escape.ts, so no user text reaches the output unescaped. Malformed nodes (an unknown op, a
// missing attribute, a parameter the program does not declare) raise CodegenError naming the node.
import { OP_TABLE, type AttrValue, type IRNode, type OpName } from "../ir.js";
import { CodegenError, jsString, numberLiteral, propertyAccess } from "./escape.js";

/** What lowering needs to know about the rest of the program. */
export interface LowerContext {
  /** Generated variable name of each node id computed so far. */
  valueOf: ReadonlyMap<string, string>;
  /** Names of every declared parameter. */
  paramNames: ReadonlySet<string>;
  /** Output shape of each node id, to tell attention's optional inputs apart. */
  shapeOf: ReadonlyMap<string, readonly (number | string)[]>;
}

/** Ops whose method name is not simply the camelCase of the op name. */
const METHOD_NAME: Partial<Record<OpName, string>> = { const: "constant" };

/** `layer_norm` → `layerNorm`; `transpose_b` → `transposeB`. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function methodName(op: OpName): string {
  return METHOD_NAME[op] ?? camelCase(op);
}

/** The expression computing `node`; `inputsObject` and `paramsObject` name the forward arguments. */
export function lowerNode(node: IRNode, ctx: LowerContext, inputsObject = "inputs", paramsObject = "p"): string {
  // hasOwn: an op named "__proto__" or "toString" must not find Object.prototype's members.
  const signature = Object.hasOwn(OP_TABLE, node.op) ? OP_TABLE[node.op] : undefined;
  if (!signature) throw new CodegenError(`node ${node.id}: unknown op ${jsString(String(node.op))}`);
  const where = `node ${node.id} (${node.op})`;

  const input = (i: number): string => {
    const id = node.inputs[i];
    if (id === undefined || id === "") throw new CodegenError(`${where}: missing input ${i + 1}`);
    return valueRef(id, ctx, where);
  };
  const optionalInput = (i: number): string => {
    const id = node.inputs[i];
    return id === undefined || id === "" ? "undefined" : valueRef(id, ctx, where);
  };
  const param = (role: string): string => {
    const name = node.params[role];
    if (name === undefined) throw new CodegenError(`${where}: missing parameter role ${jsString(role)}`);
    if (!ctx.paramNames.has(name)) {
      throw new CodegenError(`${where}: parameter ${jsString(name)} is not declared in the program's params`);
    }
    return `${paramsObject}[${jsString(name)}]`;
  };
  const optionalParam = (role: string): string => (node.params[role] === undefined ? "undefined" : param(role));
  const attrs = new AttrReader(node, where);
  const m = `ops.${methodName(node.op)}`;

  checkInputCount(node, signature.inputs, where);

  switch (node.op) {
    case "input":
      return propertyAccess(inputsObject, attrs.string("name"));
    case "const":
      return `${m}(${attrs.float("value")})`;
    case "scalar":
      // A learned scalar is its parameter tensor itself.
      return param("value");

    case "add": case "sub": case "mul": case "div":
      return `${m}(${input(0)}, ${input(1)})`;
    case "matmul":
      return `${m}(${input(0)}, ${input(1)}, { transposeB: ${attrs.bool("transpose_b")} })`;

    case "neg": case "exp": case "relu": case "gelu": case "gelu_tanh": case "quick_gelu": case "silu":
    case "tanh": case "sigmoid": case "softmax": case "flatten": case "mean_tokens":
    case "transpose": case "contrastive_loss":
      return `${m}(${input(0)})`;
    case "sinusoidal_positions":
      // Padding-aware positions (token ids and a pad id) only when the node has ids.
      return node.inputs.length > 1 ? `${m}(${input(0)}, ${input(1)}, { pad: ${attrs.int("pad")} })` : `${m}(${input(0)})`;
    case "place_tokens":
      return `${m}(${input(0)}, ${input(1)}, ${input(2)})`;

    case "dense":
      return `${m}(${input(0)}, ${param("kernel")}${node.params["bias"] !== undefined ? `, ${param("bias")}` : ""})`;
    case "conv2d":
      return `${m}(${input(0)}, ${param("kernel")}, ${optionalParam("bias")}, { stride: ${attrs.int("stride")}, padding: ${attrs.padding()} })`;
    case "layer_norm":
      return `${m}(${input(0)}, ${param("gamma")}, ${param("beta")}, { eps: ${attrs.float("eps")} })`;
    case "attention": {
      // Optional inputs may be left out rather than given as "": with two inputs, the second is
      // the key mask when it has rank 2 ([B, Nk]); a context is always rank 3 ([B, M, D]).
      const second = node.inputs[1];
      const secondIsMask = node.inputs.length === 2 && second !== undefined && second !== "" && ctx.shapeOf.get(second)?.length === 2;
      const context = secondIsMask ? "undefined" : optionalInput(1);
      const mask = secondIsMask ? input(1) : optionalInput(2);
      // Eight weights do not fit on one readable line: one projection (kernel, bias) per line.
      const weights = [
        `qKernel: ${param("q_kernel")}, qBias: ${optionalParam("q_bias")}`,
        `kKernel: ${param("k_kernel")}, kBias: ${optionalParam("k_bias")}`,
        `vKernel: ${param("v_kernel")}, vBias: ${optionalParam("v_bias")}`,
        `oKernel: ${param("o_kernel")}, oBias: ${param("o_bias")}`,
      ];
      return (
        `${m}(${input(0)}, ${context}, ${mask}, {\n${weights.map((w) => `    ${w},\n`).join("")}  }, ` +
        `{ heads: ${attrs.int("heads")}, causal: ${attrs.bool("causal")} })`
      );
    }
    case "embedding":
      return `${m}(${input(0)}, ${param("table")})`;
    case "class_token":
      return `${m}(${input(0)}, ${param("token")})`;
    case "position_embedding":
      return `${m}(${input(0)}, ${param("table")})`;
    case "learned_tokens":
      return `${m}(${input(0)}, ${param("tokens")})`;

    case "max_pool": case "avg_pool":
      return `${m}(${input(0)}, { size: ${attrs.int("size")}, stride: ${attrs.int("stride")}, padding: ${attrs.padding()} })`;
    case "reshape":
      return `${m}(${input(0)}, { shape: ${attrs.ints("shape")} })`;
    case "patchify":
      return `${m}(${input(0)}, { patch: ${attrs.int("patch")} })`;
    case "concat":
      return `${m}([${node.inputs.map((_, i) => input(i)).join(", ")}], { axis: ${attrs.int("axis")} })`;
    case "slice_tokens":
      return `${m}(${input(0)}, { start: ${attrs.int("start")}, end: ${attrs.int("end")} })`;
    case "select_token":
      return `${m}(${input(0)}, { index: ${attrs.int("index")} })`;
    case "pool_eot":
      return `${m}(${input(0)}, ${input(1)}, { eot: ${attrs.int("eot")} })`;
    case "l2_normalize":
      return `${m}(${input(0)}, { eps: ${attrs.float("eps")} })`;

    case "sincos_2d_positions":
      return `${m}(${input(0)})`;
    case "merge_tiles":
      return `${m}(${input(0)}, { tiles: ${attrs.int("tiles")} })`;
    case "pixel_shuffle":
      return `${m}(${input(0)}, { factor: ${attrs.int("factor")} })`;
    case "tile_image":
      return `${m}(${input(0)}, { tile: ${attrs.int("tile")}, tiles: ${attrs.int("tiles")} })`;
    case "token_mask":
      return `${m}(${input(0)}, { start: ${attrs.int("start")}, end: ${attrs.int("end")} })`;
    case "attend":
      return `${m}(${input(0)}, ${input(1)}, ${input(2)}, ${optionalInput(3)}, { heads: ${attrs.int("heads")}, causal: ${attrs.bool("causal")} })`;
    case "partial_lora":
      return `${m}(${input(0)}, ${input(1)}, ${param("a")}, ${param("b")}, { scale: ${attrs.float("scale")} })`;

    case "cross_entropy":
      return `${m}(${input(0)}, ${input(1)})`;
    case "lm_loss":
      return `${m}(${input(0)}, ${input(1)}, ${input(2)})`;
  }
  // Unreachable while OP_TABLE and this switch agree; the compiler checks exhaustiveness above.
  const unhandled: never = node.op;
  throw new CodegenError(`${where}: op ${jsString(String(unhandled))} has no code generator`);
}

function valueRef(id: string, ctx: LowerContext, where: string): string {
  const name = ctx.valueOf.get(id);
  if (name === undefined) {
    throw new CodegenError(`${where}: input ${jsString(id)} is not an earlier node (nodes must be in topological order)`);
  }
  return name;
}

function checkInputCount(node: IRNode, declared: readonly string[], where: string): void {
  if (!Array.isArray(node.inputs)) throw new CodegenError(`${where}: inputs must be an array`);
  const variadic = declared.some((d) => d.endsWith("..."));
  const required = declared.filter((d) => !d.endsWith("?") && !d.endsWith("...")).length;
  if (variadic) {
    if (node.inputs.length < 1) throw new CodegenError(`${where}: expects at least one input`);
    return;
  }
  if (node.inputs.length < required || node.inputs.length > declared.length) {
    const range = required === declared.length ? `${required}` : `${required} to ${declared.length}`;
    throw new CodegenError(`${where}: expects ${range} inputs, found ${node.inputs.length}`);
  }
}

/** Reads typed attributes of one node, failing with the node's id when one is missing or mistyped. */
class AttrReader {
  constructor(private readonly node: IRNode, private readonly where: string) {}

  private get(key: string): AttrValue {
    const value = this.node.attrs?.[key];
    if (value === undefined) throw new CodegenError(`${this.where}: missing attribute ${jsString(key)}`);
    return value;
  }

  int(key: string): string {
    const value = this.get(key);
    if (typeof value !== "number" || !Number.isInteger(value)) this.fail(key, "an integer", value);
    return numberLiteral(value as number, `${this.where} attribute ${key}`);
  }

  float(key: string): string {
    const value = this.get(key);
    if (typeof value !== "number") this.fail(key, "a number", value);
    return numberLiteral(value as number, `${this.where} attribute ${key}`);
  }

  bool(key: string): string {
    const value = this.get(key);
    if (typeof value !== "boolean") this.fail(key, "true or false", value);
    return String(value);
  }

  string(key: string): string {
    const value = this.get(key);
    if (typeof value !== "string") this.fail(key, "a string", value);
    return value as string;
  }

  ints(key: string): string {
    const value = this.get(key);
    if (!Array.isArray(value) || !value.every((v) => typeof v === "number" && Number.isInteger(v))) {
      this.fail(key, "a list of integers", value);
    }
    return `[${(value as number[]).map((v) => numberLiteral(v, `${this.where} attribute ${key}`)).join(", ")}]`;
  }

  /** Padding is a closed set, so the literal also type-checks against `"valid" | "same"`. */
  padding(): string {
    const value = this.get("padding");
    if (value !== "valid" && value !== "same") this.fail("padding", '"valid" or "same"', value);
    return jsString(value as string);
  }

  private fail(key: string, expected: string, found: unknown): never {
    throw new CodegenError(`${this.where}: attribute ${jsString(key)} must be ${expected}, found ${jsString(JSON.stringify(found) ?? String(found))}`);
  }
}
