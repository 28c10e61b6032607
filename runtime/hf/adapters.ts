// Named tensors in, as Hugging Face names and lays them out, to the inputs of a compiled spec, and
// the spec's outputs back. The HF family specs take NHWC images (`image`), token ids (`tokens`) and
// `attention_mask`; a caller may give them under their HF names and layouts instead (the table
// below). A text shorter than the spec's sequence is padded, its padding masked out, and the
// per-token outputs cropped back: causal attention keeps every real position exact.
import type { Dim, IRProgram, IRValueRef } from "../../compiler/ir.js";
import type { JsonTensor } from "../io/tensor-json.js";
import { toInt32Data } from "../io/tensor-json.js";
import { HfImportError } from "./errors.js";

export type InputLayout = "as_given" | "nchw_to_nhwc";

/** HF input name → the spec input it feeds, and how its layout changes. */
export interface InputAlias {
  hf: string;
  ours: string;
  layout: InputLayout;
}

export const HF_INPUT_ALIASES: readonly InputAlias[] = [
  { hf: "pixel_values", ours: "image", layout: "nchw_to_nhwc" },
  { hf: "input_ids", ours: "tokens", layout: "as_given" },
  { hf: "labels", ours: "label", layout: "as_given" },
];

/** The spec inputs a shorter text may be padded in (ids, and the mask that hides the padding). */
const TOKENS = "tokens";
const MASK = "attention_mask";
/** KOSMOS-2: where the image embeddings go in the text (padded with 0: no image there). */
const IMAGE_MASK = "image_embeds_position_mask";
const TEXT_INPUTS = new Set([TOKENS, MASK, IMAGE_MASK]);

export interface HostTensor {
  shape: number[];
  dtype: "float32" | "int32";
  data: Float32Array | Int32Array;
}

export interface PreparedInputs {
  tensors: Map<string, HostTensor>;
  /** Set when the text was padded: per-token outputs are cropped back to `length`. */
  textCrop?: { batch: Dim; seq: number; length: number };
}

/**
 * Maps `given` (as read from a JSON tensor file, named `file`) to the inputs of `program`. Every
 * problem — a missing input, an unknown tensor, a wrong dtype or shape — names the tensor and what
 * was expected.
 */
export function prepareInputs(program: IRProgram, given: ReadonlyMap<string, JsonTensor>, file: string): PreparedInputs {
  const needed = inputsNeededForOutputs(program);
  const used = new Set<string>();
  const symbols = new Map<string, number>();
  const tensors = new Map<string, HostTensor>();
  let textCrop: PreparedInputs["textCrop"];

  for (const input of program.inputs) {
    const source = findSource(input.name, given);
    if (!source) {
      if (input.name === MASK && (given.has(TOKENS) || given.has("input_ids"))) continue; // made below
      if (!needed.has(input.name)) continue; // read only by the loss
      const aliases = HF_INPUT_ALIASES.filter((a) => a.ours === input.name).map((a) => ` or "${a.hf}"`).join("");
      throw new HfImportError(`no tensor "${input.name}"${aliases}: the model needs ${describeRef(input)}`, file);
    }
    used.add(source.name);
    let tensor = convert(source.tensor, source.layout, input, `${file}: tensor "${source.name}"`);
    const padded = TEXT_INPUTS.has(input.name) ? padText(tensor, input, program, file, source.name) : undefined;
    if (padded) {
      if (textCrop && textCrop.length !== padded.length) throw new HfImportError(`"${source.name}" has ${padded.length} tokens but another text input has ${textCrop.length}`, file);
      textCrop = { batch: input.shape[0]!, seq: input.shape[1] as number, length: padded.length };
      tensor = padded.tensor;
    }
    checkShape(tensor.shape, input, symbols, file, source.name);
    tensors.set(input.name, tensor);
  }

  const maskInput = program.inputs.find((i) => i.name === MASK);
  const tokens = tensors.get(TOKENS);
  if (maskInput && !tensors.has(MASK) && tokens) {
    // No mask given: every given token is real (HF's default), padding added here is not.
    const [b, seq] = tokens.shape as [number, number];
    const length = textCrop?.length ?? seq;
    const data = new Int32Array(b * seq);
    for (let r = 0; r < b; r++) data.fill(1, r * seq, r * seq + length);
    tensors.set(MASK, { shape: [b, seq], dtype: "int32", data });
  }

  checkPlacedTokens(program, tensors, file);

  const unknown = [...given.keys()].filter((name) => !used.has(name));
  if (unknown.length > 0) {
    const accepted = program.inputs.map((i) => {
      const aliases = HF_INPUT_ALIASES.filter((a) => a.ours === i.name).map((a) => a.hf);
      return [i.name, ...aliases].map((n) => `"${n}"`).join("/");
    });
    throw new HfImportError(`the model has no input ${unknown.map((n) => `"${n}"`).join(", ")}; it reads ${accepted.join(", ")}`, file);
  }
  return { tensors, ...(textCrop ? { textCrop } : {}) };
}

/** Crops per-token text outputs [T, seq, ...] back to the given text length, when it was padded. */
export function cropOutput(ref: IRValueRef, tensor: HostTensor, crop: PreparedInputs["textCrop"]): HostTensor {
  if (!crop || ref.shape.length < 2 || ref.shape[0] !== crop.batch || ref.shape[1] !== crop.seq) return tensor;
  const [b, seq, ...rest] = tensor.shape as [number, number, ...number[]];
  const inner = rest.reduce((n, d) => n * d, 1);
  const out = tensor.data instanceof Float32Array ? new Float32Array(b * crop.length * inner) : new Int32Array(b * crop.length * inner);
  for (let r = 0; r < b; r++) out.set(tensor.data.subarray(r * seq * inner, (r * seq + crop.length) * inner), r * crop.length * inner);
  return { shape: [b, crop.length, ...rest], dtype: tensor.dtype, data: out };
}

function findSource(name: string, given: ReadonlyMap<string, JsonTensor>): { name: string; tensor: JsonTensor; layout: InputLayout } | undefined {
  const direct = given.get(name);
  if (direct) return { name, tensor: direct, layout: "as_given" };
  for (const alias of HF_INPUT_ALIASES) {
    const tensor = alias.ours === name ? given.get(alias.hf) : undefined;
    if (tensor) return { name: alias.hf, tensor, layout: alias.layout };
  }
  return undefined;
}

function convert(tensor: JsonTensor, layout: InputLayout, input: IRValueRef, what: string): HostTensor {
  let host: HostTensor;
  if (input.dtype === "float32") {
    if (tensor.dtype !== "float32") throw new HfImportError(`the model's input "${input.name}" is float32, found ${tensor.dtype}`, what);
    host = { shape: tensor.shape, dtype: "float32", data: tensor.data };
  } else {
    if (tensor.dtype === "float32") throw new HfImportError(`the model's input "${input.name}" is integer (int32 or int64), found float32`, what);
    host = { shape: tensor.shape, dtype: "int32", data: toInt32Data(tensor.data, what) };
  }
  if (layout === "nchw_to_nhwc") {
    if (host.shape.length !== 4) throw new HfImportError(`expected NCHW pixel values [batch, channels, height, width], found shape [${host.shape.join(", ")}]`, what);
    return nchwToNhwc(host);
  }
  return host;
}

function nchwToNhwc(t: HostTensor): HostTensor {
  const [b, c, h, w] = t.shape as [number, number, number, number];
  const out = new Float32Array(t.data.length);
  for (let n = 0; n < b; n++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[((n * h + y) * w + x) * c + ch] = t.data[((n * c + ch) * h + y) * w + x]!;
  return { shape: [b, h, w, c], dtype: t.dtype, data: out };
}

/** Pads a [T, n] text input with n < seq to [T, seq]; undefined when no padding is needed. */
function padText(t: HostTensor, input: IRValueRef, program: IRProgram, file: string, name: string): { tensor: HostTensor; length: number } | undefined {
  const seq = input.shape[1];
  if (t.shape.length !== 2 || typeof seq !== "number" || t.shape[1]! >= seq) return undefined;
  const [b, n] = t.shape as [number, number];
  if (n === 0) throw new HfImportError(`"${name}" has no tokens`, file);
  const fill = input.name === TOKENS ? padId(program) : 0;
  const data = new Int32Array(b * seq).fill(fill);
  for (let r = 0; r < b; r++) data.set(t.data.subarray(r * n, (r + 1) * n), r * seq);
  return { tensor: { shape: [b, seq], dtype: "int32", data }, length: n };
}

/**
 * A pad id that cannot change pooling: never an end-of-text id the model pools at, and 0 when the
 * legacy rule (the highest id) applies, which no real id is below.
 */
function padId(program: IRProgram): number {
  const eots = new Set(program.nodes.filter((n) => n.op === "pool_eot").map((n) => Number(n.attrs["eot"])));
  let id = 0;
  while (eots.has(id)) id++;
  return id;
}

/**
 * A mask that says where place_tokens puts its tokens (KOSMOS-2's image_embeds_position_mask) must
 * mark exactly as many positions in each row as there are tokens to place: Hugging Face fails on any
 * other count, and a row with fewer marks would silently drop image embeddings.
 */
function checkPlacedTokens(program: IRProgram, tensors: ReadonlyMap<string, HostTensor>, file: string): void {
  const byId = new Map(program.nodes.map((n) => [n.id, n]));
  for (const node of program.nodes) {
    if (node.op !== "place_tokens") continue;
    const maskNode = byId.get(node.inputs[2]!);
    const count = byId.get(node.inputs[1]!)?.shape[1];
    if (maskNode?.op !== "input" || typeof count !== "number") continue;
    const name = String(maskNode.attrs["name"]);
    const mask = tensors.get(name);
    if (!mask || mask.shape.length !== 2) continue;
    const [rows, seq] = mask.shape as [number, number];
    for (let r = 0; r < rows; r++) {
      let marked = 0;
      for (let t = 0; t < seq; t++) if (mask.data[r * seq + t] !== 0) marked++;
      if (marked !== count) {
        throw new HfImportError(`"${name}" marks ${marked} position${marked === 1 ? "" : "s"} in row ${r}; the model places ${count} image embeddings per row (latent_query_num), so each row must mark exactly ${count}`, file);
      }
    }
  }
}

function checkShape(shape: readonly number[], input: IRValueRef, symbols: Map<string, number>, file: string, name: string): void {
  const expected = input.shape;
  const bad = (): never => {
    throw new HfImportError(`"${name}" has shape [${shape.join(", ")}], the model's input "${input.name}" needs ${describeRef(input)}`, file);
  };
  if (shape.length !== expected.length) bad();
  expected.forEach((dim, i) => {
    if (typeof dim === "number") {
      if (shape[i] !== dim) bad();
    } else {
      const bound = symbols.get(dim);
      if (bound === undefined) symbols.set(dim, shape[i]!);
      else if (bound !== shape[i]) {
        throw new HfImportError(`"${name}" has ${dim} = ${shape[i]} along axis ${i}, but an earlier input set ${dim} = ${bound}`, file);
      }
    }
  });
}

function describeRef(ref: IRValueRef): string {
  return `[${ref.shape.join(", ")}] ${ref.dtype}`;
}

/** The inputs that some output depends on (an input read only by the loss may be left out). */
export function inputsNeededForOutputs(program: IRProgram): Set<string> {
  const byId = new Map(program.nodes.map((n) => [n.id, n]));
  const seen = new Set<string>();
  const stack = program.outputs.map((o) => o.node);
  const needed = new Set<string>();
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const node = byId.get(id);
    if (!node) continue;
    if (node.op === "input") needed.add(String(node.attrs["name"]));
    stack.push(...node.inputs);
  }
  return needed;
}
