// A user's own images: a folder of PNG/JPEG files described by `labels.jsonl`, one object a line:
//
//   {"file": "img/001.png", "label": "cat"}
//   {"file": "img/002.png", "label": 1, "split": "test", "caption": "a cat on a mat"}
//
// - `file`: path relative to the folder (required).
// - `label`: a class name (string) or a class index (integer), the same kind on every line. Class
//   names are sorted (code-point order) and a label is its name's index. Integer labels must lie in
//   [0, number of classes): the classes are the lines of `classes.txt` in the folder when it exists,
//   else "0".."max label". A caption-only folder (no line has a label) is allowed for contrastive
//   training: it has no classes and every label is -1.
// - `split`: "train" or "test", on every line or on none; with none, a deterministic 90/10 split
//   is made from a hash of each file name: the same folder always gives the same test set, whatever
//   the training seed or the order of the lines, so evaluation never sees training images.
// - `caption`: optional text.
//
// Every image must have the size of the first one. Channels: if every image is grey (R = G = B
// everywhere, e.g. a greyscale PNG or JPEG) the dataset has 1 channel, otherwise 3 (RGB); grey
// images in a colour dataset are replicated to RGB and alpha is composited over black.
// Every problem is a DataError naming the file (and the labels.jsonl line), never a crash.
import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { decodeImage, type DecodedImage } from "./images.js";
import { createUint8Split } from "./split.js";
import { DataError, type Dataset, type ExampleMeta, type Split } from "./types.js";

export interface ImageFolderOptions {
  /** Fraction of examples put in "test" when labels.jsonl gives no split (default 0.1). */
  testFraction?: number;
}

export const LABELS_FILE = "labels.jsonl";
export const CLASSES_FILE = "classes.txt";
const SPLITS = ["train", "test"] as const;

/** One parsed line of labels.jsonl. */
interface Entry {
  line: number;
  file: string;
  label?: string | number;
  split?: (typeof SPLITS)[number];
  caption?: string;
}

export function loadImageFolder(dir: string, opts: ImageFolderOptions = {}): Dataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DataError("no such folder (expected a folder of images with a labels.jsonl)", dir);
  }
  const labelsPath = join(dir, LABELS_FILE);
  if (!existsSync(labelsPath)) {
    throw new DataError(`missing ${LABELS_FILE}: expected one JSON object per line, e.g. {"file": "img/001.png", "label": "cat"}`, labelsPath);
  }
  const entries = parseLabelsFile(labelsPath);
  const { classes, labels } = resolveLabels(entries, dir, labelsPath);
  const splitOf = assignSplits(entries, labelsPath, opts);
  const images = decodeAll(entries, dir, labelsPath);

  const { width, height } = images[0]!;
  const channels = images.every((img) => img.grey) ? 1 : 3;
  const splits: Record<string, Split> = {};
  for (const name of SPLITS) {
    const members = entries.map((_, i) => i).filter((i) => splitOf[i] === name);
    splits[name] = createUint8Split({
      size: members.length,
      imageShape: [height, width, channels],
      labels: Int32Array.from(members, (i) => labels[i]!),
      pixels: () => packPixels(members.map((i) => images[i]!), channels),
      meta: (k): ExampleMeta => {
        const entry = entries[members[k]!]!;
        return {
          label: labels[members[k]!]!,
          ...(entry.caption !== undefined ? { caption: entry.caption } : {}),
          source: join(dir, entry.file),
        };
      },
    });
  }
  return { name: dir, classes, splits };
}

function parseLabelsFile(labelsPath: string): Entry[] {
  const text = readFileSync(labelsPath, "utf8");
  const entries: Entry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === "") return;
    const where = `${labelsPath}:${line}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new DataError(`malformed JSON (${err instanceof Error ? err.message : String(err)}); expected one object per line like {"file": "img/001.png", "label": "cat"}`, where);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new DataError(`expected a JSON object, found ${describe(value)}`, where);
    }
    const obj = value as Record<string, unknown>;
    if (typeof obj.file !== "string" || obj.file === "") {
      throw new DataError(`"file" must be a non-empty string (a path relative to the folder), found ${describe(obj.file)}`, where);
    }
    if (isAbsolute(obj.file)) throw new DataError(`"file" must be relative to the folder, found absolute path '${obj.file}'`, where);
    const entry: Entry = { line, file: obj.file };
    if ("label" in obj) {
      const label = obj.label;
      if (typeof label === "string" ? label === "" : !(typeof label === "number" && Number.isInteger(label) && label >= 0)) {
        throw new DataError(`"label" must be a class name (string) or a non-negative integer, found ${describe(label)}`, where);
      }
      entry.label = label as string | number;
    }
    if ("split" in obj) {
      if (!SPLITS.includes(obj.split as never)) {
        throw new DataError(`"split" must be "train" or "test", found ${describe(obj.split)}`, where);
      }
      entry.split = obj.split as Entry["split"];
    }
    if ("caption" in obj) {
      if (typeof obj.caption !== "string") throw new DataError(`"caption" must be a string, found ${describe(obj.caption)}`, where);
      entry.caption = obj.caption;
    }
    entries.push(entry);
  });
  if (entries.length === 0) throw new DataError("no examples: the file has no lines", labelsPath);
  return entries;
}

function resolveLabels(entries: Entry[], dir: string, labelsPath: string): { classes: string[]; labels: Int32Array } {
  const labelled = entries.filter((e) => e.label !== undefined);
  if (labelled.length === 0) return { classes: [], labels: new Int32Array(entries.length).fill(-1) };
  const unlabelled = entries.find((e) => e.label === undefined);
  if (unlabelled) {
    throw new DataError(`this line has no "label" but line ${labelled[0]!.line} has one: label every line or none`, `${labelsPath}:${unlabelled.line}`);
  }
  const first = labelled[0]!;
  const mixed = entries.find((e) => typeof e.label !== typeof first.label);
  if (mixed) {
    throw new DataError(
      `"label" is ${describe(mixed.label)} but line ${first.line} has ${describe(first.label)}: use class names on every line or integers on every line`,
      `${labelsPath}:${mixed.line}`,
    );
  }
  const classesPath = join(dir, CLASSES_FILE);
  const listed = existsSync(classesPath) ? readClassesFile(classesPath) : undefined;
  if (typeof first.label === "string") {
    const classes = listed ?? [...new Set(entries.map((e) => e.label as string))].sort();
    const index = new Map(classes.map((c, i) => [c, i]));
    const labels = Int32Array.from(entries, (e) => {
      const k = index.get(e.label as string);
      if (k === undefined) {
        throw new DataError(`label '${String(e.label)}' is not one of the classes in ${CLASSES_FILE} (${classes.join(", ")})`, `${labelsPath}:${e.line}`);
      }
      return k;
    });
    return { classes, labels };
  }
  const max = Math.max(...entries.map((e) => e.label as number));
  const classes = listed ?? Array.from({ length: max + 1 }, (_, i) => String(i));
  for (const e of entries) {
    if ((e.label as number) >= classes.length) {
      throw new DataError(`label ${String(e.label)} is out of range: ${CLASSES_FILE} lists ${classes.length} classes (0–${classes.length - 1})`, `${labelsPath}:${e.line}`);
    }
  }
  return { classes, labels: Int32Array.from(entries, (e) => e.label as number) };
}

function readClassesFile(path: string): string[] {
  const classes = readFileSync(path, "utf8").split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== "");
  if (classes.length === 0) throw new DataError("lists no classes (expected one class name per line)", path);
  const duplicate = classes.find((c, i) => classes.indexOf(c) !== i);
  if (duplicate !== undefined) throw new DataError(`class '${duplicate}' is listed twice`, path);
  return classes;
}

function assignSplits(entries: Entry[], labelsPath: string, opts: ImageFolderOptions): string[] {
  const given = entries.filter((e) => e.split !== undefined);
  if (given.length > 0) {
    const missing = entries.find((e) => e.split === undefined);
    if (missing) {
      throw new DataError(`this line has no "split" but line ${given[0]!.line} has one: give a split on every line or on none`, `${labelsPath}:${missing.line}`);
    }
    for (const name of SPLITS) {
      if (!entries.some((e) => e.split === name)) throw new DataError(`no line has "split": "${name}"; both train and test need examples`, labelsPath);
    }
    return entries.map((e) => e.split!);
  }
  if (entries.length < 2) throw new DataError("need at least 2 examples to make a train/test split", labelsPath);
  const fraction = opts.testFraction ?? 0.1;
  const testCount = Math.min(entries.length - 1, Math.max(1, Math.round(entries.length * fraction)));
  const order = entries
    .map((e, i) => ({ i, key: hashString(e.file), file: e.file }))
    .sort((a, b) => a.key - b.key || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    .map((e) => e.i);
  const split = entries.map(() => "train");
  for (const i of order.slice(0, testCount)) split[i] = "test";
  return split;
}

/** FNV-1a over UTF-16 code units with a final avalanche: a stable, well-spread 32-bit hash. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function decodeAll(entries: Entry[], dir: string, labelsPath: string): DecodedImage[] {
  const root = resolve(dir);
  const images: DecodedImage[] = [];
  for (const entry of entries) {
    const path = resolve(root, entry.file);
    const display = join(dir, entry.file);
    const rel = relative(root, path);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new DataError(`"file" '${entry.file}' points outside the folder`, `${labelsPath}:${entry.line}`);
    }
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw new DataError(`image file not found (listed at ${LABELS_FILE} line ${entry.line})`, display);
    }
    const image = decodeImage(readFileSync(path), display);
    const first = images[0];
    if (first && (image.width !== first.width || image.height !== first.height)) {
      throw new DataError(
        `image is ${image.width}×${image.height} but the first image (${join(dir, entries[0]!.file)}) is ${first.width}×${first.height}; all images must have the same size`,
        display,
      );
    }
    images.push(image);
  }
  return images;
}

function packPixels(images: DecodedImage[], channels: 1 | 3): Uint8Array {
  if (images.length === 0) return new Uint8Array(0);
  const pixelsPerImage = images[0]!.width * images[0]!.height;
  const out = new Uint8Array(images.length * pixelsPerImage * channels);
  images.forEach((img, n) => {
    if (channels === 3) out.set(img.rgb, n * pixelsPerImage * 3);
    else for (let p = 0; p < pixelsPerImage; p++) out[n * pixelsPerImage + p] = img.rgb[p * 3]!;
  });
  return out;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  if (typeof value === "number") return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`;
  return `${typeof value === "object" ? "an object" : `a ${typeof value}`}`;
}
