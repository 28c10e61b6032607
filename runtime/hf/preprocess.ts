// The image preprocessing of a Hugging Face image processor (`preprocessor_config.json`), as vlmc
// applies it: read and validated at import, written beside the weights as `preprocess.json`, and
// applied by `vlmc predict` to the decoded image before it goes into the model's [1, H, W, C] input.
// Order as in transformers' CLIPImageProcessor / ViTImageProcessor: resize (8-bit, Pillow's
// resampling), centre crop (zero padding where the crop is larger), rescale, normalise per channel.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DecodedImage } from "../data/images.js";
import type { PixelTransform } from "../data/normalise.js";
import { DataError, type BatchField } from "../data/types.js";
import type { HfModelConfig } from "./config.js";
import { HfImportError } from "./errors.js";

/** The image processor's config in a Hugging Face model folder. */
export const HF_PREPROCESSOR_FILE = "preprocessor_config.json";
/** What the import writes beside the weights; `vlmc predict` applies it when present. */
export const PREPROCESS_FILE = "preprocess.json";
export const PREPROCESS_FORMAT = "vlmc.preprocess/1";

export type Resample = "bilinear" | "bicubic";

export interface Size2 {
  height: number;
  width: number;
}

/** The contents of preprocess.json (JSON keys as here). */
export interface ImagePreprocess {
  format: typeof PREPROCESS_FORMAT;
  /** Resize the shorter side to `shortest_edge` keeping the aspect ratio, or to exactly height × width; null: no resize. */
  resize: { shortest_edge: number } | Size2 | null;
  resample: Resample;
  /** Centre crop to this size (zero padded where the image is smaller); null: no crop. */
  center_crop: Size2 | null;
  /** Pixel bytes are multiplied by this (1/255 in every hub config); null: left as 0..255. */
  rescale_factor: number | null;
  /** Per RGB channel: (x - mean) / std after rescaling; null: not normalised. */
  mean: [number, number, number] | null;
  std: [number, number, number] | null;
}

/** PIL's resample codes (Image.Resampling) that vlmc reproduces. */
const PIL_RESAMPLE: Record<number, Resample> = { 2: "bilinear", 3: "bicubic" };
const PIL_NAMES: Record<number, string> = { 0: "nearest", 1: "lanczos", 4: "box", 5: "hamming" };

const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** transformers' defaults for keys a processor config omits, per processor class. */
interface ProcessorDefaults {
  kind: "clip" | "vit";
  size: { shortest_edge: number } | Size2;
  resample: number;
  doCenterCrop: boolean;
  mean: [number, number, number];
  std: [number, number, number];
}

const CLIP_DEFAULTS: ProcessorDefaults = { kind: "clip", size: { shortest_edge: 224 }, resample: 3, doCenterCrop: true, mean: OPENAI_CLIP_MEAN, std: OPENAI_CLIP_STD };
const VIT_DEFAULTS: ProcessorDefaults = { kind: "vit", size: { height: 224, width: 224 }, resample: 2, doCenterCrop: false, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/**
 * Reads `<dir>/preprocessor_config.json` when there is one: undefined when absent. Throws
 * HfImportError naming the file and key for a malformed or unsupported value, or when the images it
 * makes are not the model's image size.
 */
export function readPreprocessorConfig(dir: string, config: HfModelConfig): ImagePreprocess | undefined {
  const file = join(dir, HF_PREPROCESSOR_FILE);
  if (!existsSync(file)) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new HfImportError(`cannot read the image processor config (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HfImportError(`not valid JSON (${(err as Error).message})`, file);
  }
  const imageSize = config.family === "vit" ? config.imageSize : config.vision.imageSize;
  return parsePreprocessorConfig(json, file, config.family === "vit" ? "vit" : "clip", imageSize);
}

/** Interprets a parsed preprocessor_config.json (see readPreprocessorConfig); exported for tests. */
export function parsePreprocessorConfig(json: unknown, file: string, family: "vit" | "clip", imageSize: number): ImagePreprocess {
  if (!isObject(json)) throw new HfImportError(`expected a JSON object, found ${describe(json)}`, file);
  const fail = (key: string, message: string): never => {
    throw new HfImportError(`"${key}": ${message}`, file);
  };
  const type = json["image_processor_type"] ?? json["feature_extractor_type"];
  if (type !== undefined && typeof type !== "string") fail("image_processor_type", `expected a string, found ${describe(type)}`);
  const defaults = typeof type === "string" && /^ViT/.test(type) ? VIT_DEFAULTS : typeof type === "string" && /^CLIP/.test(type) ? CLIP_DEFAULTS : family === "vit" ? VIT_DEFAULTS : CLIP_DEFAULTS;

  const flag = (key: string, fallback: boolean): boolean => {
    const v = json[key];
    if (v === undefined || v === null) return fallback;
    return typeof v === "boolean" ? v : fail(key, `expected true or false, found ${describe(v)}`);
  };
  const positiveInt = (key: string, v: unknown): number =>
    Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : fail(key, `expected a positive integer, found ${describe(v)}`);
  const size2 = (key: string, v: unknown): Size2 => {
    if (typeof v === "number") return { height: positiveInt(key, v), width: v };
    if (!isObject(v) || v["height"] === undefined || v["width"] === undefined) return fail(key, `expected an integer or {"height": H, "width": W}, found ${describe(v)}`);
    return { height: positiveInt(`${key}.height`, v["height"]), width: positiveInt(`${key}.width`, v["width"]) };
  };
  const channels = (key: string, v: unknown, positive: boolean): [number, number, number] => {
    const values = typeof v === "number" ? [v, v, v] : Array.isArray(v) && v.length === 1 ? [v[0], v[0], v[0]] : v;
    if (!Array.isArray(values) || values.length !== 3) return fail(key, `expected a number or a list of 3 numbers (R, G, B), found ${describe(v)}`);
    return values.map((x: unknown, i: number) =>
      typeof x === "number" && Number.isFinite(x) && (!positive || x > 0) ? x : fail(key, `entry ${i} must be a ${positive ? "positive " : ""}finite number, found ${describe(x)}`),
    ) as [number, number, number];
  };

  flag("do_convert_rgb", true); // validated only: vlmc decodes every image to RGB
  let resize: ImagePreprocess["resize"] = null;
  let resample: Resample = "bilinear";
  if (flag("do_resize", true)) {
    const raw = json["size"] ?? defaults.size;
    if (typeof raw === "number") {
      // transformers' legacy integer size: CLIP's processor reads it as the shortest edge, ViT's as a square.
      resize = defaults.kind === "clip" ? { shortest_edge: positiveInt("size", raw) } : size2("size", raw);
    } else if (isObject(raw) && raw["longest_edge"] !== undefined) {
      fail("size", `resizing by longest_edge is not supported; vlmc resizes to {"shortest_edge": N} or {"height": H, "width": W}`);
    } else if (isObject(raw) && raw["shortest_edge"] !== undefined) {
      if (defaults.kind === "vit") fail("size", `ViTImageProcessor resizes to {"height": H, "width": W}, found ${describe(raw)}`);
      resize = { shortest_edge: positiveInt("size.shortest_edge", raw["shortest_edge"]) };
    } else {
      resize = size2("size", raw);
    }
    const code = json["resample"] ?? defaults.resample;
    if (!Number.isInteger(code)) fail("resample", `expected a PIL resample code (2 = bilinear, 3 = bicubic), found ${describe(code)}`);
    const chosen = PIL_RESAMPLE[code as number];
    if (chosen === undefined) {
      const name = PIL_NAMES[code as number];
      fail("resample", `${code}${name ? ` (${name})` : ""} is not supported; vlmc resizes with 2 (bilinear) or 3 (bicubic)`);
    }
    resample = chosen!;
  }
  // ViTImageProcessor has no centre crop: transformers ignores do_center_crop / crop_size there.
  let centerCrop: Size2 | null = null;
  if (defaults.kind === "clip" && flag("do_center_crop", defaults.doCenterCrop)) {
    centerCrop = size2("crop_size", json["crop_size"] ?? { height: 224, width: 224 });
  }
  let rescale: number | null = null;
  if (flag("do_rescale", true)) {
    const v = json["rescale_factor"] ?? 1 / 255;
    rescale = typeof v === "number" && Number.isFinite(v) && v > 0 ? v : fail("rescale_factor", `expected a positive number, found ${describe(v)}`);
  }
  let mean: ImagePreprocess["mean"] = null;
  let std: ImagePreprocess["std"] = null;
  if (flag("do_normalize", true)) {
    mean = channels("image_mean", json["image_mean"] ?? defaults.mean, false);
    std = channels("image_std", json["image_std"] ?? defaults.std, true);
  }

  const out = centerCrop ?? (resize && !("shortest_edge" in resize) ? resize : null);
  const what = centerCrop ? "crops images to" : "resizes images to";
  if (out && (out.height !== imageSize || out.width !== imageSize)) {
    throw new HfImportError(`the image processor ${what} ${out.height}×${out.width}, but the model's image_size is ${imageSize}; fix or remove ${HF_PREPROCESSOR_FILE}`, file);
  }
  return { format: PREPROCESS_FORMAT, resize, resample, center_crop: centerCrop, rescale_factor: rescale, mean, std };
}

/** The text of preprocess.json. */
export function preprocessJsonText(p: ImagePreprocess): string {
  return JSON.stringify(p, null, 2) + "\n";
}

/** Reads a preprocess.json (written by the import, perhaps edited); DataError naming the file when malformed. */
export function readPreprocessFile(file: string): ImagePreprocess {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    const why = err instanceof SyntaxError ? `not valid JSON (${err.message})` : `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    throw new DataError(`${why}; it describes the image preprocessing (re-import the model to rewrite it, or delete it)`, file);
  }
  const fail = (message: string): never => {
    throw new DataError(`${message}; expected the preprocessing written by 'vlmc import hf' (format "${PREPROCESS_FORMAT}")`, file);
  };
  if (!isObject(json)) return fail(`expected a JSON object, found ${describe(json)}`);
  if (json["format"] !== PREPROCESS_FORMAT) fail(`"format" is ${describe(json["format"])}`);
  const posInt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;
  const isSize2 = (v: unknown): v is Size2 => isObject(v) && posInt(v["height"]) && posInt(v["width"]) && Object.keys(v).length === 2;
  const resize = json["resize"];
  if (!(resize === null || isSize2(resize) || (isObject(resize) && posInt(resize["shortest_edge"]) && Object.keys(resize).length === 1))) {
    fail(`"resize" must be null, {"shortest_edge": N} or {"height": H, "width": W}, found ${describe(resize)}`);
  }
  if (json["resample"] !== "bilinear" && json["resample"] !== "bicubic") fail(`"resample" must be "bilinear" or "bicubic", found ${describe(json["resample"])}`);
  if (!(json["center_crop"] === null || isSize2(json["center_crop"]))) fail(`"center_crop" must be null or {"height": H, "width": W}, found ${describe(json["center_crop"])}`);
  const factor = json["rescale_factor"];
  if (!(factor === null || (typeof factor === "number" && Number.isFinite(factor) && factor > 0))) fail(`"rescale_factor" must be null or a positive number, found ${describe(factor)}`);
  const triple = (key: string, positive: boolean): void => {
    const v = json[key];
    if (v === null) return;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === "number" && Number.isFinite(x) && (!positive || x > 0))) {
      fail(`"${key}" must be null or a list of 3 ${positive ? "positive " : ""}numbers, found ${describe(v)}`);
    }
  };
  triple("mean", false);
  triple("std", true);
  if ((json["mean"] === null) !== (json["std"] === null)) fail(`"mean" and "std" are both null or both given`);
  return json as unknown as ImagePreprocess;
}

/** One line saying what `p` does, for the CLI. */
export function describePreprocess(p: ImagePreprocess): string {
  const steps: string[] = [];
  if (p.resize) steps.push("shortest_edge" in p.resize ? `resize shortest edge to ${p.resize.shortest_edge} (${p.resample})` : `resize to ${p.resize.height}×${p.resize.width} (${p.resample})`);
  if (p.center_crop) steps.push(`centre crop ${p.center_crop.height}×${p.center_crop.width}`);
  if (p.rescale_factor !== null) steps.push(`rescale ×${+p.rescale_factor.toPrecision(6)}`);
  if (p.mean && p.std) steps.push(`normalise mean [${p.mean.join(", ")}] std [${p.std.join(", ")}]`);
  return steps.length > 0 ? steps.join(", ") : "none";
}

/** The preprocess.json in `dir` (an imported model's folder, a run's folder), when there is one. */
export function readPreprocessIn(dir: string): ImagePreprocess | undefined {
  const file = join(dir, PREPROCESS_FILE);
  return existsSync(file) ? readPreprocessFile(file) : undefined;
}

/** The per-pixel steps of `p` (rescale, normalise), for a dataset's images (runtime/data/normalise.ts). */
export function pixelTransformOf(p: ImagePreprocess): PixelTransform {
  return { rescale: p.rescale_factor ?? 1, mean: p.mean, std: p.std };
}

/** describePreprocess of the per-pixel steps alone: what training and evaluation apply to a dataset. */
export function describePixelSteps(p: ImagePreprocess): string {
  return describePreprocess({ ...p, resize: null, center_crop: null });
}

/** `image` preprocessed by `p` as a float32 batch of one, [1, H, W, 3]. */
export function applyPreprocess(image: DecodedImage, p: ImagePreprocess): BatchField {
  let { rgb, height, width } = image;
  if (p.resize) {
    const [th, tw] = "shortest_edge" in p.resize ? shortestEdgeSize(height, width, p.resize.shortest_edge) : [p.resize.height, p.resize.width];
    rgb = resizeRgb(rgb, height, width, th, tw, p.resample);
    [height, width] = [th, tw];
  }
  if (p.center_crop) {
    rgb = centerCropRgb(rgb, height, width, p.center_crop.height, p.center_crop.width);
    [height, width] = [p.center_crop.height, p.center_crop.width];
  }
  const scale = p.rescale_factor ?? 1;
  const data = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) {
    const c = i % 3;
    const v = rgb[i]! * scale;
    data[i] = p.mean && p.std ? (v - p.mean[c]!) / p.std[c]! : v;
  }
  return { dtype: "float32", shape: [1, height, width, 3], data };
}

/** transformers' get_resize_output_image_size (default_to_square = False): the short side becomes `edge`, the long one int(edge × long / short). */
export function shortestEdgeSize(height: number, width: number, edge: number): [number, number] {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((edge * long) / short);
  return width <= height ? [newLong, edge] : [edge, newLong];
}

/**
 * Centre crop of 8-bit RGB [h, w, 3] to [th, tw, 3] as transformers' center_crop does it: the window
 * starts at floor((h - th) / 2), floor((w - tw) / 2) (the same offsets as runtime/data/fit.ts, but
 * without its limit on how much is cut), and where the crop is larger the outside is zero.
 */
export function centerCropRgb(rgb: Uint8Array, h: number, w: number, th: number, tw: number): Uint8Array {
  const out = new Uint8Array(th * tw * 3);
  const oy = Math.floor((h - th) / 2);
  const ox = Math.floor((w - tw) / 2);
  for (let y = 0; y < th; y++) {
    const sy = y + oy;
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < tw; x++) {
      const sx = x + ox;
      if (sx < 0 || sx >= w) continue;
      const s = (sy * w + sx) * 3;
      const d = (y * tw + x) * 3;
      out[d] = rgb[s]!;
      out[d + 1] = rgb[s + 1]!;
      out[d + 2] = rgb[s + 2]!;
    }
  }
  return out;
}

// Pillow's 8-bit resampling (libImaging/Resample.c): separable, horizontal pass then vertical, each
// an antialiased convolution (the filter widened by the scale when shrinking) with coefficients in
// 22-bit fixed point, rounded and clamped to 0..255 after each pass. PIL.Image.resize does this for
// transformers' slow image processors; the output matches Pillow 12.3 exactly (test/hf-preprocess),
// but the fast (torchvision) processors resize slightly differently (a level or so per pixel).
const PRECISION_BITS = 32 - 8 - 2;
const FILTERS: Record<Resample, { support: number; filter: (x: number) => number }> = {
  bilinear: {
    support: 1,
    filter: (x) => {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
  },
  bicubic: {
    support: 2,
    filter: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

interface Coeffs {
  /** Per output index: first input index and count. */
  bounds: Int32Array;
  /** Fixed-point weights, `ksize` per output index. */
  kk: Float64Array;
  ksize: number;
}

function precomputeCoeffs(inSize: number, outSize: number, resample: Resample): Coeffs {
  const { support: fsupport, filter } = FILTERS[resample];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = fsupport * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Float64Array(outSize * ksize);
  const pre = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter((x + xmin - center + 0.5) * ss);
      pre[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? pre[x]! / ww : pre[x]!;
      kk[xx * ksize + x] = Math.trunc(k < 0 ? -0.5 + k * (1 << PRECISION_BITS) : 0.5 + k * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, kk, ksize };
}

function clip8(v: number): number {
  if (v >= 256 * (1 << PRECISION_BITS)) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / (1 << PRECISION_BITS));
}

/** 8-bit RGB [h, w, 3] resized to [th, tw, 3] with Pillow's `resample` filter. */
export function resizeRgb(rgb: Uint8Array, h: number, w: number, th: number, tw: number, resample: Resample): Uint8Array {
  let cur = rgb;
  let cw = w;
  if (tw !== w) {
    const { bounds, kk, ksize } = precomputeCoeffs(w, tw, resample);
    const out = new Uint8Array(h * tw * 3);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < tw; xx++) {
        const xmin = bounds[xx * 2]!;
        const xmax = bounds[xx * 2 + 1]!;
        for (let c = 0; c < 3; c++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < xmax; x++) ss += cur[(y * w + x + xmin) * 3 + c]! * kk[xx * ksize + x]!;
          out[(y * tw + xx) * 3 + c] = clip8(ss);
        }
      }
    }
    cur = out;
    cw = tw;
  }
  if (th !== h) {
    const { bounds, kk, ksize } = precomputeCoeffs(h, th, resample);
    const out = new Uint8Array(th * cw * 3);
    for (let yy = 0; yy < th; yy++) {
      const ymin = bounds[yy * 2]!;
      const ymax = bounds[yy * 2 + 1]!;
      for (let x = 0; x < cw; x++) {
        for (let c = 0; c < 3; c++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let y = 0; y < ymax; y++) ss += cur[((y + ymin) * cw + x) * 3 + c]! * kk[yy * ksize + y]!;
          out[(yy * cw + x) * 3 + c] = clip8(ss);
        }
      }
    }
    cur = out;
  }
  return cur;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
