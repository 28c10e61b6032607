// The image processor of an imported model: preprocessor_config.json read and checked at import,
// preprocess.json written beside the weights, and `vlmc predict` applying it (resize, centre crop,
// rescale, normalise). Expectations are computed by hand on tiny images.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test, vi } from "vitest";
import { decodeImage, encodePng, type DecodedImage } from "../runtime/data/images.js";
import { importHf } from "../runtime/hf/importer.js";
import {
  applyPreprocess, centerCropRgb, parsePreprocessorConfig, PREPROCESS_FORMAT, readPreprocessFile, resizeRgb, shortestEdgeSize,
  type ImagePreprocess,
} from "../runtime/hf/preprocess.js";
import { runCli as run } from "./cli-capture.js";
import { errorOf, OWN_FIXTURES } from "./hf-helpers.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-hf-preprocess-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const ZS = join(OWN_FIXTURES, "clip-zeroshot-bpe");

/** A 4 (high) × 6 (wide) RGB image: pixel (y, x) = [10y + x, 51 + y, 255 - x]. */
function tiny(): DecodedImage {
  const rgb = new Uint8Array(4 * 6 * 3);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 6; x++) rgb.set([10 * y + x, 51 + y, 255 - x], (y * 6 + x) * 3);
  }
  return { width: 6, height: 4, rgb, grey: false };
}

function plan(over: Partial<ImagePreprocess>): ImagePreprocess {
  return { format: PREPROCESS_FORMAT, resize: null, resample: "bicubic", center_crop: null, rescale_factor: null, mean: null, std: null, ...over };
}

/** The red channel of an [h, w, 3] array as rows. */
function red(rgb: ArrayLike<number>, h: number, w: number): number[][] {
  return Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => rgb[(y * w + x) * 3]!));
}

/** A copy of the clip-zeroshot-bpe fixture (image_size 16) in a fresh folder, with `preprocessor` as its preprocessor_config.json. */
function modelFolder(name: string, preprocessor?: unknown): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) copyFileSync(join(ZS, f), join(dir, f));
  if (preprocessor !== undefined) {
    writeFileSync(join(dir, "preprocessor_config.json"), typeof preprocessor === "string" ? preprocessor : JSON.stringify(preprocessor, null, 2));
  }
  return dir;
}

const CLIP_PROCESSOR = {
  crop_size: { height: 16, width: 16 },
  do_center_crop: true,
  do_convert_rgb: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_processor_type: "CLIPImageProcessor",
  image_std: [0.26862954, 0.26130258, 0.27577711],
  resample: 3,
  rescale_factor: 0.00392156862745098,
  size: { shortest_edge: 16 },
};

describe("the arithmetic, on a 4×6 image", () => {
  test("centre crop: the window starts at floor((h - th) / 2), floor((w - tw) / 2)", () => {
    const { rgb } = tiny();
    // 2×4 out of 4×6: rows 1–2, columns 1–4.
    expect(red(centerCropRgb(rgb, 4, 6, 2, 4), 2, 4)).toEqual([
      [11, 12, 13, 14],
      [21, 22, 23, 24],
    ]);
    // 3×3: rows 0–2 (floor(1/2) = 0), columns 1–3 (floor(3/2) = 1).
    expect(red(centerCropRgb(rgb, 4, 6, 3, 3), 3, 3)).toEqual([
      [1, 2, 3],
      [11, 12, 13],
      [21, 22, 23],
    ]);
    // Larger than the image (5×7): zero padding, the odd extra row and column on top and left
    // (transformers pads ceil(1/2) = 1 before).
    const padded = centerCropRgb(rgb, 4, 6, 5, 7);
    expect(red(padded, 5, 7)).toEqual([
      [0, 0, 0, 0, 0, 0, 0],
      [0, 0, 1, 2, 3, 4, 5],
      [0, 10, 11, 12, 13, 14, 15],
      [0, 20, 21, 22, 23, 24, 25],
      [0, 30, 31, 32, 33, 34, 35],
    ]);
    // The other channels move with the red one: pixel (1, 1) of the padded image is source (0, 0).
    expect(Array.from(padded.subarray((1 * 7 + 1) * 3, (1 * 7 + 1) * 3 + 3))).toEqual([0, 51, 255]);
  });

  test("rescale and per-channel normalisation: (v · factor − mean[c]) / std[c]", () => {
    const p = plan({ rescale_factor: 1 / 255, mean: [0.5, 0.2, 0], std: [0.25, 0.1, 2] });
    const out = applyPreprocess(tiny(), p);
    expect(out.shape).toEqual([1, 4, 6, 3]);
    // Pixel (0, 0) = [0, 51, 255]: (0 − 0.5) / 0.25 = −2; (0.2 − 0.2) / 0.1 = 0; (1 − 0) / 2 = 0.5.
    expect(Array.from(out.data.subarray(0, 3)).map((v) => +v.toFixed(5))).toEqual([-2, 0, 0.5]);
    // Pixel (3, 5) = [35, 54, 250]: (35/255 − 0.5) / 0.25 = −1.45098; (54/255 − 0.2) / 0.1 = 0.11765; (250/255) / 2 = 0.4902.
    const last = (3 * 6 + 5) * 3;
    expect(out.data[last]).toBeCloseTo((35 / 255 - 0.5) / 0.25, 5);
    expect(out.data[last]).toBeCloseTo(-1.45098, 5);
    expect(out.data[last + 1]).toBeCloseTo(0.11765, 5);
    expect(out.data[last + 2]).toBeCloseTo(0.4902, 4);
    // No rescale, no normalisation: the bytes as they are.
    expect(Array.from(applyPreprocess(tiny(), plan({})).data.subarray(0, 3))).toEqual([0, 51, 255]);
  });

  test("crop then normalise: the padding is zero bytes, so it normalises to −mean / std", () => {
    const out = applyPreprocess(tiny(), plan({ center_crop: { height: 5, width: 7 }, rescale_factor: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }));
    expect(out.shape).toEqual([1, 5, 7, 3]);
    expect(Array.from(out.data.subarray(0, 3))).toEqual([-1, -1, -1]);
    // Pixel (2, 2) of the crop is source (1, 1) = [11, 52, 254].
    const at = (2 * 7 + 2) * 3;
    expect(out.data[at]).toBeCloseTo(11 / 127.5 - 1, 6);
    expect(out.data[at + 2]).toBeCloseTo(254 / 127.5 - 1, 6);
  });

  test("shortest-edge sizes follow transformers: the long side is int(edge · long / short)", () => {
    expect(shortestEdgeSize(4, 6, 2)).toEqual([2, 3]);
    expect(shortestEdgeSize(6, 4, 3)).toEqual([4, 3]);
    expect(shortestEdgeSize(480, 640, 224)).toEqual([224, 298]); // 298.67 → 298
    expect(shortestEdgeSize(5, 5, 3)).toEqual([3, 3]);
  });

  test("resize is Pillow's antialiased filter: a 4 → 2 bilinear row by hand", () => {
    // Scale 2: the triangle widens to support 2. Output 0 (centre 1.0) reads inputs 0–2 with weights
    // 0.75, 0.75, 0.25 (÷ 1.75): (0 + 75 + 50) / 1.75 = 71.4 → 71. Output 1 (centre 3.0) reads 1–3 with
    // 0.25, 0.75, 0.75: (25 + 150 + 30) / 1.75 = 117.1 → 117.
    const row = new Uint8Array([0, 0, 0, 100, 100, 100, 200, 200, 200, 40, 40, 40]);
    expect(Array.from(resizeRgb(row, 1, 4, 1, 2, "bilinear"))).toEqual([71, 71, 71, 117, 117, 117]);
    // A flat image stays flat under either filter, growing or shrinking; the same size is a copy.
    const flat = new Uint8Array(4 * 6 * 3).fill(77);
    for (const resample of ["bilinear", "bicubic"] as const) {
      expect(new Set(resizeRgb(flat, 4, 6, 3, 5, resample))).toEqual(new Set([77]));
      expect(new Set(resizeRgb(flat, 4, 6, 9, 7, resample))).toEqual(new Set([77]));
    }
    const { rgb } = tiny();
    expect(resizeRgb(rgb, 4, 6, 4, 6, "bicubic")).toEqual(rgb);
    // Bicubic overshoots at a hard edge; the result is clamped to 0..255 as in PIL.
    const edge = new Uint8Array([0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255]);
    const up = resizeRgb(edge, 1, 4, 1, 8, "bicubic");
    expect(Math.min(...up)).toBe(0);
    expect(Math.max(...up)).toBe(255);
  });

  test("resize matches Pillow 12.3 (PIL.Image.resize on uint8 RGB) exactly", () => {
    // Reference: Image.fromarray(img).resize((5, 3), resample=3) and .resize((3, 9), resample=2) on the
    // 7×11 image with pixel (y, x, c) = (37y + 23x + 91c) mod 256.
    const img = new Uint8Array(7 * 11 * 3);
    for (let y = 0; y < 7; y++) for (let x = 0; x < 11; x++) for (let c = 0; c < 3; c++) img[(y * 11 + x) * 3 + c] = (37 * y + 23 * x + 91 * c) % 256;
    expect(Array.from(resizeRgb(img, 7, 11, 3, 5, "bicubic"))).toEqual([
      42, 140, 165, 89, 184, 99, 151, 160, 65, 187, 86, 123, 147, 72, 177, 127, 179, 54, 182, 107, 94, 175, 56, 161, 89, 108, 180, 63, 168, 130,
      200, 58, 136, 144, 84, 188, 58, 146, 169, 98, 194, 76, 154, 161, 66,
    ]);
    expect(Array.from(resizeRgb(img, 7, 11, 9, 3, "bilinear"))).toEqual([
      38, 129, 198, 115, 194, 85, 192, 93, 118, 63, 154, 149, 140, 164, 80, 183, 74, 143, 91, 173, 86, 163, 113, 94, 133, 80, 171, 120, 179, 46,
      178, 69, 123, 74, 109, 189, 149, 174, 75, 182, 73, 152, 69, 138, 178, 178, 95, 104, 119, 92, 171, 81, 167, 99, 194, 64, 133, 94, 119, 180,
      105, 196, 72, 177, 70, 161, 86, 147, 155, 133, 183, 74, 128, 95, 186, 81, 172, 101, 158, 125, 84,
    ]);
  });

  test("shortest edge then centre crop, as CLIP's processor does", () => {
    // 4×6 → shortest edge 2 → 2×3 → crop 2×2 (columns 0–1, floor(1/2) = 0).
    const out = applyPreprocess(tiny(), plan({ resize: { shortest_edge: 2 }, resample: "bilinear", center_crop: { height: 2, width: 2 } }));
    expect(out.shape).toEqual([1, 2, 2, 3]);
    const resized = resizeRgb(tiny().rgb, 4, 6, 2, 3, "bilinear");
    expect(Array.from(out.data)).toEqual(Array.from(centerCropRgb(resized, 2, 3, 2, 2)));
  });
});

describe("preprocessor_config.json at import", () => {
  test("CLIP's processor config becomes preprocess.json beside the weights", () => {
    const out = join(work, "clip-out");
    const result = importHf(modelFolder("clip", CLIP_PROCESSOR), out);
    expect(result.notes).toEqual([]);
    expect(result.preprocessFile).toBe(join(out, "preprocess.json"));
    const written = JSON.parse(readFileSync(join(out, "preprocess.json"), "utf8"));
    expect(written).toEqual({
      format: "vlmc.preprocess/1",
      resize: { shortest_edge: 16 },
      resample: "bicubic",
      center_crop: { height: 16, width: 16 },
      rescale_factor: 0.00392156862745098,
      mean: [0.48145466, 0.4578275, 0.40821073],
      std: [0.26862954, 0.26130258, 0.27577711],
    });
    expect(readPreprocessFile(join(out, "preprocess.json"))).toEqual(written);
  });

  test("omitted keys take the processor's defaults; legacy integer sizes; ViT has no crop", () => {
    const clip = parsePreprocessorConfig({ image_processor_type: "CLIPImageProcessor", size: 16, crop_size: 16 }, "p.json", "clip", 16);
    expect(clip).toMatchObject({ resize: { shortest_edge: 16 }, resample: "bicubic", center_crop: { height: 16, width: 16 }, rescale_factor: 1 / 255 });
    expect(clip.mean).toEqual([0.48145466, 0.4578275, 0.40821073]);
    const vit = parsePreprocessorConfig({ image_processor_type: "ViTImageProcessor", size: 16, do_center_crop: true, crop_size: 8 }, "p.json", "vit", 16);
    expect(vit).toEqual(plan({ resize: { height: 16, width: 16 }, resample: "bilinear", rescale_factor: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }));
    const off = parsePreprocessorConfig({ do_resize: false, do_center_crop: false, do_rescale: false, do_normalize: false, image_mean: 0.5 }, "p.json", "clip", 16);
    expect(off).toEqual(plan({ resample: "bilinear" }));
  });

  test("malformed values are named, with the file, and nothing is written", () => {
    const cases: [string, unknown, RegExp][] = [
      ["mean2", { ...CLIP_PROCESSOR, image_mean: [0.5, 0.5] }, /preprocessor_config\.json: "image_mean": expected a number or a list of 3 numbers \(R, G, B\), found \[0\.5,0\.5\]$/],
      ["std0", { ...CLIP_PROCESSOR, image_std: [0.5, 0, 0.5] }, /"image_std": entry 1 must be a positive finite number, found 0$/],
      ["lanczos", { ...CLIP_PROCESSOR, resample: 1 }, /"resample": 1 \(lanczos\) is not supported; vlmc resizes with 2 \(bilinear\) or 3 \(bicubic\)$/],
      ["crop", { ...CLIP_PROCESSOR, crop_size: { height: 224, width: 224 } }, /the image processor crops images to 224×224, but the model's image_size is 16; fix or remove preprocessor_config\.json$/],
      ["size", { ...CLIP_PROCESSOR, size: { shortest_edge: -3 } }, /"size\.shortest_edge": expected a positive integer, found -3$/],
      ["longest", { ...CLIP_PROCESSOR, size: { longest_edge: 16 } }, /"size": resizing by longest_edge is not supported/],
      ["flag", { ...CLIP_PROCESSOR, do_normalize: "yes" }, /"do_normalize": expected true or false, found "yes"$/],
      ["factor", { ...CLIP_PROCESSOR, rescale_factor: 0 }, /"rescale_factor": expected a positive number, found 0$/],
      ["list", [1, 2], /preprocessor_config\.json: expected a JSON object, found \[1,2\]$/],
      ["json", "{ not json", /preprocessor_config\.json: not valid JSON/],
    ];
    for (const [name, config, message] of cases) {
      const out = join(work, `bad-${name}-out`);
      expect(errorOf(() => importHf(modelFolder(`bad-${name}`, config), out)).message, name).toMatch(message);
      expect(existsSync(join(out, "model.vlm")) || existsSync(join(out, "preprocess.json")), name).toBe(false);
    }
  });

  test("through the CLI, a malformed config is an error message, not a stack trace", async () => {
    const ran = await run("import", "hf", modelFolder("bad-cli", { ...CLIP_PROCESSOR, resample: "bicubic" }), "-o", join(work, "bad-cli-out"));
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/^error\[data\]: .*bad-cli\/preprocessor_config\.json: "resample": expected a PIL resample code \(2 = bilinear, 3 = bicubic\), found "bicubic"\n$/);
  });

  test("without preprocessor_config.json nothing is written, a note says so, and an earlier preprocess.json goes", () => {
    const out = join(work, "none-out");
    importHf(modelFolder("with", CLIP_PROCESSOR), out);
    expect(existsSync(join(out, "preprocess.json"))).toBe(true);
    const result = importHf(modelFolder("without"), out);
    expect(result.preprocessFile).toBeUndefined();
    expect(result.notes).toEqual([expect.stringMatching(/without has no preprocessor_config\.json; 'vlmc predict' feeds images as pixel values \/ 255 \(removed the preprocess\.json of an earlier import\)$/)]);
    expect(existsSync(join(out, "preprocess.json"))).toBe(false);
    expect(importHf(modelFolder("without"), out).notes).toEqual([expect.stringMatching(/has no preprocessor_config\.json; 'vlmc predict' feeds images as pixel values \/ 255$/)]);
  });
});

describe("vlmc predict applies preprocess.json", () => {
  const reference = JSON.parse(readFileSync(join(ZS, "zeroshot.json"), "utf8")).tensors as { labels: string[]; cosine: number[] };
  const cosines = (stdout: string): number[] => {
    const scores = (JSON.parse(stdout) as { scores: { label: string; cosine: number }[] }).scores;
    return reference.labels.map((l) => scores.find((s) => s.label === l)!.cosine);
  };

  test("a 16×24 image cropped to its middle 16×16 and rescaled by 1/255 is the fixture's reference input", async () => {
    // The fixture's reference fed image.png / 255. Widen the image by 4 columns each side: the
    // processor (shortest edge 16: no resize; centre crop 16×16 from column 4; × 1/255; mean 0,
    // std 1) must give back exactly that input, and so HF's cosines.
    const png = decodeImage(readFileSync(join(ZS, "image.png")), "image.png");
    const wide = new Uint8Array(16 * 24 * 3).fill(200);
    for (let y = 0; y < 16; y++) wide.set(png.rgb.subarray(y * 16 * 3, (y + 1) * 16 * 3), (y * 24 + 4) * 3);
    const image = join(work, "wide.png");
    writeFileSync(image, encodePng(wide, 24, 16, 3));
    const out = join(work, "predict-out");
    importHf(modelFolder("predict", { ...CLIP_PROCESSOR, image_mean: [0, 0, 0], image_std: [1, 1, 1] }), out);
    const args = ["predict", join(out, "model.vlm"), "-w", join(out, "weights.safetensors"), "--image", image, "--labels", reference.labels.join(","), "--backend", "cpu"];
    const ran = await run(...args, "--json");
    expect(ran.code, ran.stderr).toBe(0);
    for (const [i, c] of cosines(ran.stdout).entries()) expect(Math.abs(c - reference.cosine[i]!), reference.labels[i]).toBeLessThanOrEqual(1e-4);
    // Without --json, predict says what it applied.
    const text = await run(...args);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toMatch(/\npreprocessing \(preprocess\.json\): resize shortest edge to 16 \(bicubic\), centre crop 16×16, rescale ×0\.00392157, normalise mean \[0, 0, 0\] std \[1, 1, 1\]\n$/);

    // CLIP's own mean/std change the input, and so the cosines; deleting preprocess.json restores
    // the old behaviour (the 16×16 image.png / 255).
    importHf(modelFolder("predict", CLIP_PROCESSOR), out);
    const normalised = await run("predict", join(out, "model.vlm"), "-w", join(out, "weights.safetensors"), "--image", join(ZS, "image.png"), "--labels", reference.labels.join(","), "--backend", "cpu", "--json");
    expect(normalised.code, normalised.stderr).toBe(0);
    expect(Math.max(...cosines(normalised.stdout).map((c, i) => Math.abs(c - reference.cosine[i]!)))).toBeGreaterThan(1e-3);
    rmSync(join(out, "preprocess.json"));
    const plain = await run("predict", join(out, "model.vlm"), "-w", join(out, "weights.safetensors"), "--image", join(ZS, "image.png"), "--labels", reference.labels.join(","), "--backend", "cpu", "--json");
    expect(plain.code, plain.stderr).toBe(0);
    for (const [i, c] of cosines(plain.stdout).entries()) expect(Math.abs(c - reference.cosine[i]!)).toBeLessThanOrEqual(1e-4);
  });

  test("a malformed preprocess.json is an error message naming it", async () => {
    const out = join(work, "predict-bad-out");
    importHf(modelFolder("predict-bad", CLIP_PROCESSOR), out);
    writeFileSync(join(out, "preprocess.json"), JSON.stringify({ ...plan({}), std: [1, 0, 1], mean: [0, 0, 0] }));
    const ran = await run("predict", join(out, "model.vlm"), "-w", join(out, "weights.safetensors"), "--image", join(ZS, "image.png"), "--labels", "a red circle", "--backend", "cpu");
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/^error\[data\]: .*predict-bad-out\/preprocess\.json: "std" must be null or a list of 3 positive numbers, found \[1,0,1\]; expected the preprocessing written by 'vlmc import hf' \(format "vlmc\.preprocess\/1"\)\n$/);
    writeFileSync(join(out, "preprocess.json"), "{");
    const broken = await run("predict", join(out, "model.vlm"), "-w", join(out, "weights.safetensors"), "--image", join(ZS, "image.png"), "--labels", "a red circle", "--backend", "cpu");
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^error\[data\]: .*preprocess\.json: not valid JSON .*; it describes the image preprocessing \(re-import the model to rewrite it, or delete it\)\n$/);
  });
});
