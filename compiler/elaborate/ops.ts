// The primitive ops as the language sees them: each op's argument list (with defaults), its shape
// rule and checks, and the parameters it declares. Every check names what it expected and what it
// found, at the span of the call. Op FLOPs are computed later, from the IR (passes/flops.ts).
import type { DiagnosticNote } from "../diagnostics.js";
import type { AttrValue, Dim, Init, OpName, Shape, Span } from "../ir.js";
import { didYouMean } from "../suggest.js";
import { fail, originNotes } from "./errors.js";
import type { GraphBuilder } from "./graph.js";
import { broadcastShapes, formatShape } from "./shapes.js";
import type { TensorValue, Value } from "./values.js";
import { describeValue } from "./values.js";

type ArgKind = "tensor" | "tensors" | "int" | "float" | "bool" | "string" | "ints";

interface ArgSpec {
  name: string;
  kind: ArgKind;
  /** Absent: required. `null`: optional with no value (an optional tensor, or a default derived from another arg). */
  default?: number | boolean | string | null;
}

const t = (name: string): ArgSpec => ({ name, kind: "tensor" });
const optT = (name: string): ArgSpec => ({ name, kind: "tensor", default: null });
const int = (name: string, d?: number | null): ArgSpec => (d === undefined ? { name, kind: "int" } : { name, kind: "int", default: d });
const float = (name: string, d?: number): ArgSpec => (d === undefined ? { name, kind: "float" } : { name, kind: "float", default: d });
const bool = (name: string, d: boolean): ArgSpec => ({ name, kind: "bool", default: d });
const str = (name: string, d?: string): ArgSpec => (d === undefined ? { name, kind: "string" } : { name, kind: "string", default: d });

const ACTIVATIONS = ["relu", "gelu", "gelu_tanh", "quick_gelu", "silu", "tanh", "sigmoid"] as const;
const UNARY = [...ACTIVATIONS, "softmax", "exp", "neg"] as const;

/** The language signature of every primitive (see docs/language.md). */
export const PRIMITIVES: Record<string, ArgSpec[]> = {
  dense: [t("x"), int("units"), bool("bias", true)],
  conv2d: [t("x"), int("filters"), int("kernel", 3), int("stride", 1), str("padding", "valid"), bool("bias", true)],
  max_pool: [t("x"), int("size", 2), int("stride", null), str("padding", "valid")],
  avg_pool: [t("x"), int("size", 2), int("stride", null), str("padding", "valid")],
  flatten: [t("x")],
  reshape: [t("x"), { name: "shape", kind: "ints" }],
  transpose: [t("x")],
  layer_norm: [t("x"), float("eps", 1e-5)],
  attention: [t("x"), int("heads"), optT("context"), optT("mask"), bool("causal", false), bool("bias", true)],
  embedding: [t("ids"), int("vocab"), int("dim")],
  patchify: [t("x"), int("patch")],
  concat: [{ name: "xs", kind: "tensors" }, int("axis", 1)],
  class_token: [t("x")],
  position_embedding: [t("x")],
  sinusoidal_positions: [t("x"), optT("ids"), int("pad", 1)],
  place_tokens: [t("x"), t("tokens"), t("mask")],
  learned_tokens: [t("like"), int("count"), int("dim")],
  scalar: [float("init")],
  activation: [t("x"), str("name")],
  l2_normalize: [t("x"), float("eps", 1e-12)],
  matmul: [t("a"), t("b"), bool("transpose_b", false)],
  slice_tokens: [t("x"), int("start"), int("end")],
  select_token: [t("x"), int("index", 0)],
  mean_tokens: [t("x")],
  pool_eot: [t("x"), t("ids"), int("eot")],
  cross_entropy: [t("logits"), t("labels")],
  contrastive_loss: [t("logits")],
  lm_loss: [t("logits"), t("targets"), t("mask")],
  sincos_2d_positions: [t("x")],
  pixel_shuffle: [t("x"), int("factor", 2)],
  tile_image: [t("x"), int("tile"), int("max_tiles")],
  merge_tiles: [t("x")],
  token_mask: [t("x"), int("start"), int("end")],
  attend: [t("q"), t("k"), t("v"), int("heads"), optT("mask"), bool("causal", false)],
  partial_lora: [t("x"), t("mask"), int("units"), int("rank", 8), float("scale", 1)],
};
for (const op of UNARY) PRIMITIVES[op] = [t("x")];

/** Primitives that own parameters: each call is a module (named by `as` or automatically). */
export const PARAMETRISED = new Set(["dense", "conv2d", "layer_norm", "attention", "embedding", "class_token", "position_embedding", "learned_tokens", "scalar", "partial_lora"]);

export interface CallArg {
  name: string | null;
  value: Value;
  span: Span;
}

export interface OpContext {
  graph: GraphBuilder;
  /** The module this call creates (parametrised ops) or the enclosing module (others). */
  module: string;
  span: Span;
}

type Bound = Map<string, { value: Value; span: Span } | undefined>;

/** Matches call arguments to an argument list: positional first, then by name. */
export function bindArguments(callee: string, specs: ArgSpec[], args: CallArg[], span: Span): Bound {
  const bound: Bound = new Map();
  const variadic = specs[0]?.kind === "tensors";
  let position = 0;
  for (const arg of args) {
    if (arg.name === null) {
      if (variadic && arg.value.kind === "tensor") {
        const prev = bound.get("xs");
        const list = prev ? (prev.value as Extract<Value, { kind: "list" }>).items : [];
        bound.set("xs", { value: { kind: "list", items: [...list, arg.value] }, span: prev?.span ?? arg.span });
        position = 1;
        continue;
      }
      const spec = specs[position];
      if (!spec) {
        fail("E0301", `${callee} takes at most ${specs.length} positional argument${specs.length === 1 ? "" : "s"}, found ${args.filter((a) => a.name === null).length}`, arg.span, {
          hint: `${callee}(${specs.map((s) => s.name).join(", ")})`,
        });
      }
      bound.set(spec.name, { value: arg.value, span: arg.span });
      position++;
    } else {
      const spec = specs.find((s) => s.name === arg.name);
      if (!spec) {
        const names = specs.map((s) => s.name);
        const close = didYouMean(arg.name, names);
        fail("E0303", `${callee} has no argument named '${arg.name}'`, arg.span, {
          hint: `${close ? close + " " : ""}${callee} takes (${names.join(", ")})`,
        });
      }
      if (bound.has(spec.name)) fail("E0304", `argument '${spec.name}' of ${callee} is given more than once`, arg.span);
      bound.set(spec.name, { value: arg.value, span: arg.span });
    }
  }
  for (const spec of specs) {
    if (!bound.has(spec.name) && spec.default === undefined) {
      fail("E0302", `${callee} is missing its argument '${spec.name}'`, span, { hint: `${callee}(${specs.map((s) => s.name).join(", ")})` });
    }
  }
  return bound;
}

/** Reads a bound argument with its expected kind, converting ints to floats where a float is expected. */
function get(callee: string, specs: ArgSpec[], bound: Bound, name: string): Value | null {
  const spec = specs.find((s) => s.name === name)!;
  const arg = bound.get(name);
  if (!arg) {
    if (spec.default === undefined || spec.default === null) return null;
    const d = spec.default;
    if (typeof d === "boolean") return { kind: "bool", value: d };
    if (typeof d === "string") return { kind: "string", value: d };
    return spec.kind === "int" ? { kind: "int", value: d } : { kind: "float", value: d };
  }
  const v = arg.value;
  const wrong = (expected: string): never =>
    fail("E0305", `argument '${name}' of ${callee} expects ${expected}, found ${describeValue(v)}`, arg.span, { notes: originNotes(v) });
  switch (spec.kind) {
    case "tensor":
      if (v.kind !== "tensor") wrong("a tensor");
      return v;
    case "tensors":
      return v;
    case "int":
      if (v.kind !== "int") wrong("an int");
      return v;
    case "float":
      if (v.kind === "int") return { kind: "float", value: v.value, origin: v.origin };
      if (v.kind !== "float") wrong("a float");
      return v;
    case "bool":
      if (v.kind !== "bool") wrong("a bool");
      return v;
    case "string":
      if (v.kind !== "string") wrong("a string");
      return v;
    case "ints":
      if (v.kind !== "list" || !v.items.every((i) => i.kind === "int")) wrong("a list of ints");
      return v;
  }
}

function rankError(op: string, what: string, x: TensorValue, span: Span): never {
  fail("E0402", `${op} expects ${what}, found ${formatShape(x.shape)}`, span);
}

function intDim(op: string, d: Dim, what: string, span: Span): number {
  if (typeof d !== "number") fail("E0402", `${op} needs a concrete ${what}, found the symbolic dimension ${d}`, span);
  return d;
}

function requireFloat(op: string, argName: string, x: TensorValue, span: Span): void {
  if (x.dtype !== "float32") fail("E0305", `argument '${argName}' of ${op} expects a float tensor, found int tensor ${formatShape(x.shape)}`, span);
}

function requireInt(op: string, argName: string, x: TensorValue, span: Span): void {
  if (x.dtype !== "int32") fail("E0305", `argument '${argName}' of ${op} expects an int tensor, found float tensor ${formatShape(x.shape)}`, span);
}

function sameDim(a: Dim, b: Dim): boolean {
  return a === b;
}

/** Output size of a conv/pool window along one axis. */
function windowOut(op: string, size: number, window: number, stride: number, padding: string, span: Span, notes: DiagnosticNote[]): number {
  if (padding === "same") return Math.ceil(size / stride);
  const out = Math.floor((size - window) / stride) + 1;
  if (out < 1) fail("E0406", `${op}: window ${window} is larger than the input size ${size} (padding "valid")`, span, { notes, hint: 'use padding = "same" or a smaller window' });
  return out;
}

const glorot = (fanIn: number, fanOut: number): Init => ({ kind: "glorot_uniform", fanIn, fanOut });
const ZEROS: Init = { kind: "zeros" };
const ONES: Init = { kind: "ones" };
const SMALL_NORMAL: Init = { kind: "normal", std: 0.02 };

/** Builds the IR for one primitive call and returns its output tensor. */
export function buildPrimitive(op: string, args: CallArg[], ctx: OpContext): TensorValue {
  const specs = PRIMITIVES[op]!;
  const bound = bindArguments(op, specs, args, ctx.span);
  const val = (name: string) => get(op, specs, bound, name);
  const tensor = (name: string) => val(name) as TensorValue;
  const optTensor = (name: string) => val(name) as TensorValue | null;
  const num = (name: string) => (val(name) as { value: number }).value;
  const flag = (name: string) => (val(name) as { value: boolean }).value;
  const text = (name: string) => (val(name) as { value: string }).value;
  const argSpan = (name: string) => bound.get(name)?.span ?? ctx.span;
  const { graph, module, span } = ctx;
  const node = (name: OpName, inputs: TensorValue[], attrs: Record<string, AttrValue>, params: Record<string, string>, shape: Shape, dtype: "float32" | "int32" = "float32") =>
    graph.addNode(name, inputs, attrs, params, shape, dtype, module, span);
  const positive = (name: string): number => {
    const n = num(name);
    if (n <= 0) fail("E0407", `${op}: '${name}' must be positive, found ${n}`, argSpan(name), { notes: originNotes(val(name)!) });
    return n;
  };

  switch (op) {
    case "dense": {
      const x = tensor("x");
      requireFloat(op, "x", x, argSpan("x"));
      if (x.shape.length < 1) rankError(op, "a tensor of rank >= 1", x, argSpan("x"));
      const units = positive("units");
      const inDim = intDim(op, x.shape[x.shape.length - 1]!, "last dimension", argSpan("x"));
      const params: Record<string, string> = { kernel: graph.addParam(module, "kernel", [inDim, units], glorot(inDim, units)) };
      if (flag("bias")) params.bias = graph.addParam(module, "bias", [units], ZEROS);
      return node("dense", [x], { units, bias: flag("bias") }, params, [...x.shape.slice(0, -1), units]);
    }
    case "conv2d": {
      const x = tensor("x");
      requireFloat(op, "x", x, argSpan("x"));
      if (x.shape.length !== 4) rankError(op, "an NHWC tensor [B, H, W, C]", x, argSpan("x"));
      const filters = positive("filters");
      const k = positive("kernel");
      const stride = positive("stride");
      const padding = padMode(op, text("padding"), argSpan("padding"));
      const [b, hd, wd, cd] = x.shape as [Dim, Dim, Dim, Dim];
      const notes = originNotes(val("kernel")!);
      const h = windowOut(op, intDim(op, hd, "height", argSpan("x")), k, stride, padding, span, notes);
      const w = windowOut(op, intDim(op, wd, "width", argSpan("x")), k, stride, padding, span, notes);
      const cin = intDim(op, cd, "channel count", argSpan("x"));
      const params: Record<string, string> = { kernel: graph.addParam(module, "kernel", [k, k, cin, filters], glorot(k * k * cin, k * k * filters)) };
      if (flag("bias")) params.bias = graph.addParam(module, "bias", [filters], ZEROS);
      return node("conv2d", [x], { filters, kernel: k, stride, padding, bias: flag("bias") }, params, [b, h, w, filters]);
    }
    case "max_pool":
    case "avg_pool": {
      const x = tensor("x");
      if (x.shape.length !== 4) rankError(op, "an NHWC tensor [B, H, W, C]", x, argSpan("x"));
      const size = positive("size");
      const stride = bound.has("stride") ? positive("stride") : size;
      const padding = padMode(op, text("padding"), argSpan("padding"));
      const [b, hd, wd, c] = x.shape as [Dim, Dim, Dim, Dim];
      const notes = originNotes(val("size")!);
      const h = windowOut(op, intDim(op, hd, "height", argSpan("x")), size, stride, padding, span, notes);
      const w = windowOut(op, intDim(op, wd, "width", argSpan("x")), size, stride, padding, span, notes);
      return node(op, [x], { size, stride, padding }, {}, [b, h, w, c]);
    }
    case "flatten": {
      const x = tensor("x");
      if (x.shape.length < 2) rankError(op, "a tensor of rank >= 2", x, argSpan("x"));
      let n = 1;
      for (const d of x.shape.slice(1)) n *= intDim(op, d, "dimension", argSpan("x"));
      return node("flatten", [x], {}, {}, [x.shape[0]!, n], x.dtype);
    }
    case "reshape": {
      const x = tensor("x");
      const target = (val("shape") as Extract<Value, { kind: "list" }>).items.map((i) => (i as { value: number }).value);
      let have = 1;
      for (const d of x.shape.slice(1)) have *= intDim(op, d, "dimension", argSpan("x"));
      const want = target.reduce((a, b) => a * b, 1);
      if (target.some((d) => d <= 0) || want !== have) {
        fail("E0401", `reshape: cannot reshape ${formatShape(x.shape)} (${have} elements per example) to [${x.shape[0]}, ${target.join(", ")}] (${want})`, span);
      }
      return node("reshape", [x], { shape: target }, {}, [x.shape[0]!, ...target], x.dtype);
    }
    case "transpose": {
      const x = tensor("x");
      if (x.shape.length < 2) rankError(op, "a tensor of rank >= 2", x, argSpan("x"));
      const s = [...x.shape];
      [s[s.length - 2], s[s.length - 1]] = [s[s.length - 1]!, s[s.length - 2]!];
      return node("transpose", [x], {}, {}, s, x.dtype);
    }
    case "layer_norm": {
      const x = tensor("x");
      requireFloat(op, "x", x, argSpan("x"));
      if (x.shape.length < 1) rankError(op, "a tensor of rank >= 1", x, argSpan("x"));
      const d = intDim(op, x.shape[x.shape.length - 1]!, "last dimension", argSpan("x"));
      const params = { gamma: graph.addParam(module, "gamma", [d], ONES), beta: graph.addParam(module, "beta", [d], ZEROS) };
      return node("layer_norm", [x], { eps: num("eps") }, params, x.shape);
    }
    case "attention": {
      const x = tensor("x");
      requireFloat(op, "x", x, argSpan("x"));
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, N, D]", x, argSpan("x"));
      const heads = positive("heads");
      const dq = intDim(op, x.shape[2]!, "width", argSpan("x"));
      if (dq % heads !== 0) {
        fail("E0404", `attention: width ${dq} is not divisible by heads = ${heads}`, argSpan("heads"), {
          notes: originNotes(val("heads")!),
          hint: `choose heads among the divisors of ${dq}`,
        });
      }
      const context = optTensor("context");
      const mask = optTensor("mask");
      let dk = dq;
      let keys: Dim = x.shape[1]!;
      if (context) {
        requireFloat(op, "context", context, argSpan("context"));
        if (context.shape.length !== 3) rankError(op, "a context tensor [B, M, D]", context, argSpan("context"));
        if (!sameDim(context.shape[0]!, x.shape[0]!)) {
          fail("E0401", `attention: context batch ${formatShape(context.shape)} does not match query ${formatShape(x.shape)}`, argSpan("context"));
        }
        dk = intDim(op, context.shape[2]!, "context width", argSpan("context"));
        keys = context.shape[1]!;
      }
      if (mask) {
        const expected: Shape = [x.shape[0]!, keys];
        if (mask.shape.length !== 2 || !sameDim(mask.shape[0]!, expected[0]!) || !sameDim(mask.shape[1]!, expected[1]!)) {
          fail("E0401", `attention: key mask must be ${formatShape(expected)}, found ${formatShape(mask.shape)}`, argSpan("mask"));
        }
      }
      const hasBias = flag("bias");
      const params: Record<string, string> = {};
      params.q_kernel = graph.addParam(module, "q_kernel", [dq, dq], glorot(dq, dq));
      if (hasBias) params.q_bias = graph.addParam(module, "q_bias", [dq], ZEROS);
      params.k_kernel = graph.addParam(module, "k_kernel", [dk, dq], glorot(dk, dq));
      if (hasBias) params.k_bias = graph.addParam(module, "k_bias", [dq], ZEROS);
      params.v_kernel = graph.addParam(module, "v_kernel", [dk, dq], glorot(dk, dq));
      if (hasBias) params.v_bias = graph.addParam(module, "v_bias", [dq], ZEROS);
      params.o_kernel = graph.addParam(module, "o_kernel", [dq, dq], glorot(dq, dq));
      params.o_bias = graph.addParam(module, "o_bias", [dq], ZEROS);
      const inputs = [x, ...(context ? [context] : []), ...(mask ? [mask] : [])];
      return node("attention", inputs, { heads, causal: flag("causal"), bias: hasBias }, params, x.shape);
    }
    case "embedding": {
      const ids = tensor("ids");
      requireInt(op, "ids", ids, argSpan("ids"));
      const vocab = positive("vocab");
      const dim = positive("dim");
      const params = { table: graph.addParam(module, "table", [vocab, dim], SMALL_NORMAL) };
      return node("embedding", [ids], { vocab, dim }, params, [...ids.shape, dim]);
    }
    case "patchify": {
      const x = tensor("x");
      if (x.shape.length !== 4) rankError(op, "an NHWC tensor [B, H, W, C]", x, argSpan("x"));
      const p = positive("patch");
      const h = intDim(op, x.shape[1]!, "height", argSpan("x"));
      const w = intDim(op, x.shape[2]!, "width", argSpan("x"));
      const c = intDim(op, x.shape[3]!, "channel count", argSpan("x"));
      if (h % p !== 0 || w % p !== 0) {
        fail("E0404", `patchify: image size ${h}×${w} is not divisible by patch = ${p}`, argSpan("patch"), {
          notes: originNotes(val("patch")!),
          hint: `choose a patch size that divides ${h}${h === w ? "" : ` and ${w}`}`,
        });
      }
      return node("patchify", [x], { patch: p }, {}, [x.shape[0]!, (h / p) * (w / p), p * p * c]);
    }
    case "concat": {
      const xs = ((val("xs") as Extract<Value, { kind: "list" }>).items ?? []) as TensorValue[];
      if (xs.length === 0) fail("E0302", "concat needs at least one tensor", span);
      const rank = xs[0]!.shape.length;
      const axisArg = num("axis");
      const axis = axisArg < 0 ? rank + axisArg : axisArg;
      if (axis < 0 || axis >= rank) fail("E0402", `concat: axis ${axisArg} is out of range for rank ${rank}`, argSpan("axis"));
      if (axis === 0) fail("E0402", "concat: axis 0 is the batch axis; concatenate along tokens (axis = 1) or features (axis = -1)", argSpan("axis"));
      let total = 0;
      for (const x of xs) {
        const mismatch = x.shape.length !== rank || x.shape.some((d, i) => i !== axis && d !== xs[0]!.shape[i]) || x.dtype !== xs[0]!.dtype;
        if (mismatch) {
          fail("E0401", `concat along axis ${axisArg}: cannot join ${formatShape(xs[0]!.shape)} with ${formatShape(x.shape)}${x.dtype !== xs[0]!.dtype ? " (int with float)" : ""}`, span);
        }
        total += intDim(op, x.shape[axis]!, "concatenated dimension", span);
      }
      const shape = [...xs[0]!.shape];
      shape[axis] = total;
      return node("concat", xs, { axis }, {}, shape, xs[0]!.dtype);
    }
    case "class_token": {
      const x = tensor("x");
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, N, D]", x, argSpan("x"));
      const d = intDim(op, x.shape[2]!, "width", argSpan("x"));
      const n = intDim(op, x.shape[1]!, "token count", argSpan("x"));
      return node("class_token", [x], {}, { token: graph.addParam(module, "token", [d], SMALL_NORMAL) }, [x.shape[0]!, n + 1, d]);
    }
    case "position_embedding": {
      const x = tensor("x");
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, N, D]", x, argSpan("x"));
      const n = intDim(op, x.shape[1]!, "token count", argSpan("x"));
      const d = intDim(op, x.shape[2]!, "width", argSpan("x"));
      return node("position_embedding", [x], {}, { table: graph.addParam(module, "table", [n, d], SMALL_NORMAL) }, x.shape);
    }
    case "sinusoidal_positions": {
      const x = tensor("x");
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, N, D]", x, argSpan("x"));
      const d = intDim(op, x.shape[2]!, "width", argSpan("x"));
      if (d % 2 !== 0) fail("E0404", `sinusoidal_positions: width ${d} is not even`, argSpan("x"));
      const ids = optTensor("ids");
      if (!ids) {
        if (bound.get("pad")) fail("E0302", "sinusoidal_positions: 'pad' applies to padding-aware positions, which need 'ids'", argSpan("pad"), { hint: "pass the token ids: sinusoidal_positions(x, ids = tokens, pad = …)" });
        return node("sinusoidal_positions", [x], {}, {}, x.shape);
      }
      requireInt(op, "ids", ids, argSpan("ids"));
      if (ids.shape.length !== 2 || !sameDim(ids.shape[0]!, x.shape[0]!) || ids.shape[1] !== x.shape[1]) {
        fail("E0401", `sinusoidal_positions: ids must be ${formatShape(x.shape.slice(0, 2))} to match ${formatShape(x.shape)}, found ${formatShape(ids.shape)}`, argSpan("ids"));
      }
      const pad = num("pad");
      if (pad < 0) fail("E0407", `sinusoidal_positions: 'pad' must be a token id (>= 0), found ${pad}`, argSpan("pad"));
      return node("sinusoidal_positions", [x, ids], { pad }, {}, x.shape);
    }
    case "place_tokens": {
      const x = tensor("x");
      const tokens = tensor("tokens");
      const mask = tensor("mask");
      requireFloat(op, "x", x, argSpan("x"));
      requireFloat(op, "tokens", tokens, argSpan("tokens"));
      requireInt(op, "mask", mask, argSpan("mask"));
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, T, D]", x, argSpan("x"));
      if (tokens.shape.length !== 3 || !sameDim(tokens.shape[0]!, x.shape[0]!) || tokens.shape[2] !== x.shape[2]) {
        fail("E0401", `place_tokens: tokens must be [${x.shape[0]}, L, ${x.shape[2]}] to go into ${formatShape(x.shape)}, found ${formatShape(tokens.shape)}`, argSpan("tokens"));
      }
      if (mask.shape.length !== 2 || !sameDim(mask.shape[0]!, x.shape[0]!) || mask.shape[1] !== x.shape[1]) {
        fail("E0401", `place_tokens: mask must be ${formatShape(x.shape.slice(0, 2))} to match ${formatShape(x.shape)}, found ${formatShape(mask.shape)}`, argSpan("mask"));
      }
      return node("place_tokens", [x, tokens, mask], {}, {}, x.shape);
    }
    case "learned_tokens": {
      const like = tensor("like");
      if (like.shape.length < 1) rankError(op, "a tensor with a batch axis", like, argSpan("like"));
      const count = positive("count");
      const dim = positive("dim");
      const params = { tokens: graph.addParam(module, "tokens", [count, dim], SMALL_NORMAL) };
      return node("learned_tokens", [like], { count, dim }, params, [like.shape[0]!, count, dim]);
    }
    case "scalar": {
      const init = num("init");
      const params = { value: graph.addParam(module, "value", [], { kind: "constant", value: init }) };
      return node("scalar", [], { init }, params, []);
    }
    case "activation": {
      const name = text("name");
      if (!(ACTIVATIONS as readonly string[]).includes(name)) {
        fail("E0305", `activation: unknown activation "${name}", expected one of ${ACTIVATIONS.join(", ")}`, argSpan("name"), { notes: originNotes(val("name")!) });
      }
      const x = tensor("x");
      requireFloat(op, "x", x, argSpan("x"));
      return node(name as OpName, [x], {}, {}, x.shape);
    }
    case "l2_normalize": {
      const x = tensor("x");
      requireFloat(op, "x", x, argSpan("x"));
      if (x.shape.length < 1) rankError(op, "a tensor of rank >= 1", x, argSpan("x"));
      return node("l2_normalize", [x], { eps: num("eps") }, {}, x.shape);
    }
    case "matmul": {
      const a = tensor("a");
      const b = tensor("b");
      const tb = flag("transpose_b");
      if (a.shape.length < 2) rankError(op, "a matrix (rank >= 2) as 'a'", a, argSpan("a"));
      if (b.shape.length < 2) rankError(op, "a matrix (rank >= 2) as 'b'", b, argSpan("b"));
      const [n, k] = a.shape.slice(-2) as [Dim, Dim];
      const [bk, m] = (tb ? [...b.shape.slice(-2)].reverse() : b.shape.slice(-2)) as [Dim, Dim];
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      if (k !== bk || batch === null) {
        fail("E0401", `matmul: inner dimensions differ: ${formatShape(a.shape)} × ${formatShape(b.shape)}${tb ? "ᵀ" : ""} (${k} vs ${bk})`, span);
      }
      return node("matmul", [a, b], { transpose_b: tb }, {}, [...batch, n, m]);
    }
    case "slice_tokens": {
      const x = tensor("x");
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, N, D]", x, argSpan("x"));
      const n = intDim(op, x.shape[1]!, "token count", argSpan("x"));
      const start = num("start");
      const end = num("end");
      if (start < 0 || end > n || start >= end) {
        fail("E0406", `slice_tokens: range ${start}..${end} is not inside the ${n} tokens of ${formatShape(x.shape)}`, span, { notes: originNotes(val("start")!, val("end")!) });
      }
      return node("slice_tokens", [x], { start, end }, {}, [x.shape[0]!, end - start, x.shape[2]!], x.dtype);
    }
    case "select_token": {
      const x = tensor("x");
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, N, D]", x, argSpan("x"));
      const n = intDim(op, x.shape[1]!, "token count", argSpan("x"));
      const index = num("index");
      if (index < 0 || index >= n) fail("E0406", `select_token: index ${index} is outside the ${n} tokens of ${formatShape(x.shape)}`, argSpan("index"));
      return node("select_token", [x], { index }, {}, [x.shape[0]!, x.shape[2]!], x.dtype);
    }
    case "mean_tokens": {
      const x = tensor("x");
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, N, D]", x, argSpan("x"));
      return node("mean_tokens", [x], {}, {}, [x.shape[0]!, x.shape[2]!]);
    }
    case "pool_eot": {
      const x = tensor("x");
      const ids = tensor("ids");
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, T, D]", x, argSpan("x"));
      requireInt(op, "ids", ids, argSpan("ids"));
      if (ids.shape.length !== 2 || ids.shape[0] !== x.shape[0] || ids.shape[1] !== x.shape[1]) {
        fail("E0401", `pool_eot: ids must be ${formatShape(x.shape.slice(0, 2))} to match ${formatShape(x.shape)}, found ${formatShape(ids.shape)}`, argSpan("ids"));
      }
      return node("pool_eot", [x, ids], { eot: num("eot") }, {}, [x.shape[0]!, x.shape[2]!]);
    }
    case "sincos_2d_positions": {
      const x = tensor("x");
      requireFloat(op, "x", x, argSpan("x"));
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, N, D]", x, argSpan("x"));
      const n = intDim(op, x.shape[1]!, "token count", argSpan("x"));
      const d = intDim(op, x.shape[2]!, "width", argSpan("x"));
      squareSide(op, n, x, argSpan("x"));
      if (d % 4 !== 0) fail("E0404", `sincos_2d_positions: width ${d} is not divisible by 4 (a sin and a cos quarter for rows, the same for columns)`, argSpan("x"));
      return node("sincos_2d_positions", [x], {}, {}, x.shape);
    }
    case "pixel_shuffle": {
      const x = tensor("x");
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, N, D] over a square grid", x, argSpan("x"));
      const n = intDim(op, x.shape[1]!, "token count", argSpan("x"));
      const d = intDim(op, x.shape[2]!, "width", argSpan("x"));
      const f = positive("factor");
      const side = squareSide(op, n, x, argSpan("x"));
      if (side % f !== 0) {
        fail("E0404", `pixel_shuffle: the ${side}×${side} token grid of ${formatShape(x.shape)} is not divisible by factor = ${f}`, argSpan("factor"), {
          notes: originNotes(val("factor")!),
          hint: `choose a factor that divides ${side}, or change the grid (image size / patch)`,
        });
      }
      const g = side / f;
      return node("pixel_shuffle", [x], { factor: f }, {}, [x.shape[0]!, g * g, f * f * d], x.dtype);
    }
    case "tile_image": {
      const x = tensor("x");
      requireFloat(op, "x", x, argSpan("x"));
      if (x.shape.length !== 4) rankError(op, "an NHWC image [B, H, W, C]", x, argSpan("x"));
      if (typeof x.shape[0] !== "string" || tileCount(x.shape[0]) !== null) {
        fail("E0402", `tile_image expects an image with a plain batch dimension, found ${formatShape(x.shape)}`, argSpan("x"));
      }
      const tile = positive("tile");
      const maxTiles = positive("max_tiles");
      const h = intDim(op, x.shape[1]!, "height", argSpan("x"));
      const w = intDim(op, x.shape[2]!, "width", argSpan("x"));
      if (h % tile !== 0 || w % tile !== 0) {
        fail("E0404", `tile_image: image size ${h}×${w} is not divisible by tile = ${tile}`, argSpan("tile"), {
          notes: originNotes(val("tile")!),
          hint: `choose a tile size that divides ${h}${h === w ? "" : ` and ${w}`} (the encoder's input size)`,
        });
      }
      const grid = (h / tile) * (w / tile);
      const tiles = grid > 1 ? grid + 1 : 1;
      if (tiles > maxTiles) {
        fail("E0408", `tile_image: a ${h}×${w} image makes ${h / tile}×${w / tile} tiles of ${tile}×${tile}${grid > 1 ? " plus a thumbnail" : ""} = ${tiles} tiles, over max_tiles = ${maxTiles}`, argSpan("max_tiles"), {
          notes: originNotes(val("max_tiles")!),
          hint: `raise max_tiles to ${tiles}, or use a larger tile or a smaller image`,
        });
      }
      return node("tile_image", [x], { tile, tiles, max_tiles: maxTiles }, {}, [`${x.shape[0]}*${tiles}`, tile, tile, x.shape[3]!]);
    }
    case "merge_tiles": {
      const x = tensor("x");
      if (x.shape.length !== 3) rankError(op, "tile tokens [B*T, N, D]", x, argSpan("x"));
      const batch = x.shape[0]!;
      const tiles = typeof batch === "string" ? tileCount(batch) : null;
      if (tiles === null) {
        fail("E0402", `merge_tiles expects tokens of tiles, with a batch B*T made by tile_image, found ${formatShape(x.shape)}`, argSpan("x"));
      }
      const n = intDim(op, x.shape[1]!, "token count", argSpan("x"));
      const base = (batch as string).slice(0, (batch as string).lastIndexOf("*"));
      return node("merge_tiles", [x], { tiles }, {}, [base, tiles * n, x.shape[2]!], x.dtype);
    }
    case "token_mask": {
      const x = tensor("x");
      if (x.shape.length < 2) rankError(op, "a token tensor [B, N, …]", x, argSpan("x"));
      const n = intDim(op, x.shape[1]!, "token count", argSpan("x"));
      const start = num("start");
      const end = num("end");
      if (start < 0 || end > n || start > end) {
        fail("E0406", `token_mask: range ${start}..${end} is not inside the ${n} tokens of ${formatShape(x.shape)}`, span, { notes: originNotes(val("start")!, val("end")!) });
      }
      return node("token_mask", [x], { start, end }, {}, [x.shape[0]!, n]);
    }
    case "attend": {
      const [q, k, v] = [tensor("q"), tensor("k"), tensor("v")];
      for (const [name, t] of [["q", q], ["k", k], ["v", v]] as const) {
        requireFloat(op, name, t, argSpan(name));
        if (t.shape.length !== 3) rankError(op, `a token tensor [B, N, D] as '${name}'`, t, argSpan(name));
      }
      if (!sameDim(k.shape[0]!, q.shape[0]!) || k.shape[2] !== q.shape[2] || !sameDim(v.shape[0]!, k.shape[0]!) || v.shape[1] !== k.shape[1] || v.shape[2] !== q.shape[2]) {
        fail("E0401", `attend: q ${formatShape(q.shape)}, k ${formatShape(k.shape)} and v ${formatShape(v.shape)} do not fit: k and v must be [${q.shape[0]}, M, ${q.shape[2]}] with the same M`, span);
      }
      const heads = positive("heads");
      const d = intDim(op, q.shape[2]!, "width", argSpan("q"));
      if (d % heads !== 0) {
        fail("E0404", `attend: width ${d} is not divisible by heads = ${heads}`, argSpan("heads"), { notes: originNotes(val("heads")!), hint: `choose heads among the divisors of ${d}` });
      }
      const mask = optTensor("mask");
      if (mask && (mask.shape.length !== 2 || !sameDim(mask.shape[0]!, q.shape[0]!) || mask.shape[1] !== k.shape[1])) {
        fail("E0401", `attend: key mask must be ${formatShape([q.shape[0]!, k.shape[1]!])}, found ${formatShape(mask.shape)}`, argSpan("mask"));
      }
      return node("attend", [q, k, v, ...(mask ? [mask] : [])], { heads, causal: flag("causal") }, {}, q.shape);
    }
    case "partial_lora": {
      const x = tensor("x");
      const mask = tensor("mask");
      requireFloat(op, "x", x, argSpan("x"));
      requireFloat(op, "mask", mask, argSpan("mask"));
      if (x.shape.length !== 3) rankError(op, "a token tensor [B, N, D]", x, argSpan("x"));
      if (mask.shape.length !== 2 || !sameDim(mask.shape[0]!, x.shape[0]!) || mask.shape[1] !== x.shape[1]) {
        fail("E0401", `partial_lora: mask must be ${formatShape(x.shape.slice(0, 2))} to match x ${formatShape(x.shape)}, found ${formatShape(mask.shape)}`, argSpan("mask"));
      }
      const d = intDim(op, x.shape[2]!, "width", argSpan("x"));
      const units = positive("units");
      const rank = positive("rank");
      const params = { a: graph.addParam(module, "a", [d, rank], glorot(d, rank)), b: graph.addParam(module, "b", [rank, units], ZEROS) };
      return node("partial_lora", [x, mask], { units, rank, scale: num("scale") }, params, [x.shape[0]!, x.shape[1]!, units]);
    }
    case "cross_entropy": {
      const logits = tensor("logits");
      const labels = tensor("labels");
      if (logits.shape.length !== 2) rankError(op, "logits [B, C]", logits, argSpan("logits"));
      requireInt(op, "labels", labels, argSpan("labels"));
      if (labels.shape.length !== 1 || labels.shape[0] !== logits.shape[0]) {
        fail("E0401", `cross_entropy: labels must be ${formatShape([logits.shape[0]!])}, found ${formatShape(labels.shape)}`, argSpan("labels"));
      }
      return node("cross_entropy", [logits, labels], {}, {}, []);
    }
    case "contrastive_loss": {
      const logits = tensor("logits");
      // Square: the matching pairs on the diagonal. Two different symbols ([B, T]: B images, T
      // texts, as in an imported CLIPModel that ranks any number of labels) pass here, and the
      // runtime requires them equal where the loss is computed: training feeds one caption per image.
      const [rows, cols] = logits.shape;
      if (logits.shape.length !== 2 || (rows !== cols && (typeof rows === "number" || typeof cols === "number"))) {
        rankError(op, "square logits [B, B] (image × text similarities)", logits, argSpan("logits"));
      }
      return node("contrastive_loss", [logits], {}, {}, []);
    }
    case "lm_loss": {
      const logits = tensor("logits");
      const targets = tensor("targets");
      const mask = tensor("mask");
      if (logits.shape.length !== 3) rankError(op, "logits [B, T, V]", logits, argSpan("logits"));
      requireInt(op, "targets", targets, argSpan("targets"));
      requireFloat(op, "mask", mask, argSpan("mask"));
      const expected = logits.shape.slice(0, 2);
      for (const [name, v] of [["targets", targets], ["mask", mask]] as const) {
        if (v.shape.length !== 2 || v.shape[0] !== expected[0] || v.shape[1] !== expected[1]) {
          fail("E0401", `lm_loss: ${name} must be ${formatShape(expected)} to match logits ${formatShape(logits.shape)}, found ${formatShape(v.shape)}`, argSpan(name));
        }
      }
      return node("lm_loss", [logits, targets, mask], {}, {}, []);
    }
    default: {
      // relu, gelu, …, softmax, exp, neg: elementwise, same shape.
      const x = tensor("x");
      requireFloat(op, "x", x, argSpan("x"));
      if (op === "softmax" && x.shape.length < 1) rankError(op, "a tensor of rank >= 1", x, argSpan("x"));
      return node(op as OpName, [x], {}, {}, x.shape);
    }
  }
}

/** The side of a square token grid of n tokens (E0404 when n is not a square). */
function squareSide(op: string, n: number, x: TensorValue, span: Span): number {
  const side = Math.round(Math.sqrt(n));
  if (side * side !== n) fail("E0404", `${op}: ${n} tokens of ${formatShape(x.shape)} are not a square grid`, span, { hint: "drop the class token first, e.g. slice_tokens(x, 1, N)" });
  return side;
}

/** T in a tiled batch dimension "B*T" (made by tile_image), or null for a plain one. */
export function tileCount(batch: string): number | null {
  const m = /\*(\d+)$/.exec(batch);
  return m ? Number(m[1]) : null;
}

function padMode(op: string, padding: string, span: Span): "valid" | "same" {
  if (padding !== "valid" && padding !== "same") fail("E0305", `${op}: padding must be "valid" or "same", found "${padding}"`, span);
  return padding;
}

/** Elementwise binary arithmetic on tensors (`+ - * /`) with numpy broadcasting. */
export function buildElementwise(op: "add" | "sub" | "mul" | "div", a: TensorValue, b: TensorValue, ctx: OpContext): TensorValue {
  const shape = broadcastShapes(a.shape, b.shape);
  if (shape === null) fail("E0401", `${op}: cannot broadcast ${formatShape(a.shape)} with ${formatShape(b.shape)}`, ctx.span);
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    fail("E0305", `${op}: arithmetic needs float tensors, found ${a.dtype === "int32" ? "an int tensor" : "float"} and ${b.dtype === "int32" ? "an int tensor" : "float"}`, ctx.span);
  }
  return ctx.graph.addNode(op, [a, b], {}, {}, shape, "float32", ctx.module, ctx.span);
}
