// The shapes world: a procedurally generated, seeded dataset of 32×32 RGB images, each holding
// one coloured shape, with a class label (the shape), a caption and question–answer pairs.
// DESIGN.md ("The shapes world") fixes the default configuration; a PyTorch reference was trained
// on exactly this world, so the vocabularies, the held-out combinations and the split sizes below
// must not drift.
//
// Cost model: choosing the attributes of every example is cheap and happens when a split is
// created; an image is rendered the first time a batch includes it (into one byte buffer per
// split), and captions/QA are built on demand in `meta()` (a ConvNet run never builds a caption).
import { createRng, type Rng } from "./rng.js";
import { createUint8Split } from "./split.js";
import { DataError, type Dataset, type ExampleMeta, type QAPair, type Split } from "./types.js";

/** Class label = index in this list. */
export const SHAPES = ["circle", "square", "triangle", "cross", "star"] as const;
export const COLOURS = ["red", "green", "blue", "yellow", "purple", "cyan"] as const;
export const SIZES = ["small", "large"] as const;
export const POSITIONS = ["left", "right", "top", "bottom"] as const;

export type ShapeName = (typeof SHAPES)[number];
export type ColourName = (typeof COLOURS)[number];
export type SizeName = (typeof SIZES)[number];
export type PositionName = (typeof POSITIONS)[number];

/** Colour–shape combinations that never occur in train or test; the heldout split has only these. */
export const HELDOUT_COMBINATIONS: ReadonlyArray<{ colour: ColourName; shape: ShapeName }> = [
  { colour: "red", shape: "circle" },
  { colour: "green", shape: "square" },
  { colour: "blue", shape: "triangle" },
  { colour: "yellow", shape: "cross" },
  { colour: "purple", shape: "star" },
  { colour: "cyan", shape: "square" },
];

export const SHAPES_QUESTIONS: Readonly<Record<"colour" | "shape" | "size" | "position", string>> = {
  colour: "what colour is the shape ?",
  shape: "what shape is it ?",
  size: "is it small or large ?",
  position: "where is the shape ?",
};

export const SHAPES_IMAGE_SIZE = 32;

/** The zero-shot prompt for a combination; it has the form of a training caption. */
export function shapesPrompt(colour: string, shape: string): string {
  return `a ${colour} ${shape}`;
}

/** All 30 colour–shape prompts (colour-major order), for zero-shot classification. */
export function shapesZeroShotPrompts(): Array<{ colour: ColourName; shape: ShapeName; prompt: string }> {
  return COLOURS.flatMap((colour) => SHAPES.map((shape) => ({ colour, shape, prompt: shapesPrompt(colour, shape) })));
}

export function isHeldoutCombination(colour: string, shape: string): boolean {
  return HELDOUT_COMBINATIONS.some((c) => c.colour === colour && c.shape === shape);
}

export interface ShapesOptions {
  seed?: number;
  trainSize?: number;
  testSize?: number;
  heldoutSize?: number;
}

export const SHAPES_DEFAULTS = { seed: 0, trainSize: 20_000, testSize: 2_000, heldoutSize: 1_800 } as const;

/** The attributes of one example, as indices into SHAPES, COLOURS, SIZES and POSITIONS. */
export interface ShapeAttributes {
  shape: number;
  colour: number;
  size: number;
  position: number;
}

const cache = new Map<string, Dataset>();

/**
 * The shapes world with splits train, test (same distribution) and heldout (only the held-out
 * combinations). Pixels are in [0, 1] with no further normalisation. Cached per process and
 * options, so a trainer and an evaluator in one process render the images once.
 */
export function loadShapes(opts: ShapesOptions = {}): Dataset {
  const key = JSON.stringify(resolveOptions(opts));
  let dataset = cache.get(key);
  if (!dataset) {
    dataset = createShapes(opts);
    cache.set(key, dataset);
  }
  return dataset;
}

/** Like loadShapes, without the cache: a fresh dataset (tests use it to check determinism). */
export function createShapes(opts: ShapesOptions = {}): Dataset {
  const o = resolveOptions(opts);
  for (const key of ["trainSize", "testSize", "heldoutSize"] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 0) throw new DataError(`shapes world: ${key} must be a non-negative integer, got ${o[key]}`);
  }
  if (!Number.isInteger(o.seed)) throw new DataError(`shapes world: the seed must be an integer, got ${o.seed}`);
  // One independent stream per split, so a split's content does not depend on the other sizes.
  const master = createRng(o.seed);
  const trainSeed = master.int(2 ** 32);
  const testSeed = master.int(2 ** 32);
  const heldoutSeed = master.int(2 ** 32);
  return {
    name: "shapes",
    classes: [...SHAPES],
    splits: {
      train: createShapesSplit(sampleInDistribution(createRng(trainSeed), o.trainSize)),
      test: createShapesSplit(sampleInDistribution(createRng(testSeed), o.testSize)),
      heldout: createShapesSplit(sampleHeldout(createRng(heldoutSeed), o.heldoutSize)),
    },
  };
}

/** The defaults overridden by the options that are given (an undefined option keeps its default). */
function resolveOptions(opts: ShapesOptions): Required<ShapesOptions> {
  return {
    seed: opts.seed ?? SHAPES_DEFAULTS.seed,
    trainSize: opts.trainSize ?? SHAPES_DEFAULTS.trainSize,
    testSize: opts.testSize ?? SHAPES_DEFAULTS.testSize,
    heldoutSize: opts.heldoutSize ?? SHAPES_DEFAULTS.heldoutSize,
  };
}

/** Attributes and per-example randomness of a split, stored as flat arrays. */
interface SplitPlan {
  size: number;
  shape: Uint8Array;
  colour: Uint8Array;
  sizeClass: Uint8Array;
  position: Uint8Array;
  /** Bit 0: caption mentions the size; bit 1: caption mentions the position. */
  captionParts: Uint8Array;
  /** Seed of the rendering stream of each example, so any image can be rendered on its own. */
  renderSeed: Uint32Array;
}

function emptyPlan(size: number): SplitPlan {
  return {
    size,
    shape: new Uint8Array(size),
    colour: new Uint8Array(size),
    sizeClass: new Uint8Array(size),
    position: new Uint8Array(size),
    captionParts: new Uint8Array(size),
    renderSeed: new Uint32Array(size),
  };
}

function fillCommon(plan: SplitPlan, i: number, rng: Rng): void {
  plan.sizeClass[i] = rng.int(SIZES.length);
  plan.position[i] = rng.int(POSITIONS.length);
  plan.captionParts[i] = rng.int(4);
  plan.renderSeed[i] = rng.int(2 ** 32);
}

/**
 * Train/test: the shape is drawn uniformly (balanced classes for the shape label), then the colour
 * uniformly among the colours that shape is allowed with outside the held-out set.
 */
function sampleInDistribution(rng: Rng, size: number): SplitPlan {
  const allowed = SHAPES.map((shape) =>
    COLOURS.map((_, c) => c).filter((c) => !isHeldoutCombination(COLOURS[c]!, shape)),
  );
  const plan = emptyPlan(size);
  for (let i = 0; i < size; i++) {
    const shape = rng.int(SHAPES.length);
    const colours = allowed[shape]!;
    plan.shape[i] = shape;
    plan.colour[i] = colours[rng.int(colours.length)]!;
    fillCommon(plan, i, rng);
  }
  return plan;
}

/** Heldout: the held-out combinations in equal numbers (300 each by default), in shuffled order. */
function sampleHeldout(rng: Rng, size: number): SplitPlan {
  const order = rng.shuffle(Array.from({ length: size }, (_, i) => i % HELDOUT_COMBINATIONS.length));
  const plan = emptyPlan(size);
  for (let i = 0; i < size; i++) {
    const combo = HELDOUT_COMBINATIONS[order[i]!]!;
    plan.shape[i] = SHAPES.indexOf(combo.shape);
    plan.colour[i] = COLOURS.indexOf(combo.colour);
    fillCommon(plan, i, rng);
  }
  return plan;
}

function createShapesSplit(plan: SplitPlan): Split {
  const s = SHAPES_IMAGE_SIZE;
  const imageSize = s * s * 3;
  // One byte buffer per split, each image rendered the first time a batch asks for it: a test
  // that reads five images pays for five, an epoch pays once for all.
  let buffer: Uint8Array | undefined;
  const rendered = new Uint8Array(plan.size);
  const pixels = (): Uint8Array => (buffer ??= new Uint8Array(plan.size * imageSize));
  return createUint8Split({
    size: plan.size,
    imageShape: [s, s, 3],
    labels: Int32Array.from(plan.shape),
    pixels,
    prepare: (i) => {
      if (rendered[i]) return;
      renderShapeInto(pixels(), i * imageSize, attributesOf(plan, i), plan.renderSeed[i]!);
      rendered[i] = 1;
    },
    meta: (i) => shapesMeta(attributesOf(plan, i), plan.captionParts[i]!),
  });
}

function attributesOf(plan: SplitPlan, i: number): ShapeAttributes {
  return { shape: plan.shape[i]!, colour: plan.colour[i]!, size: plan.sizeClass[i]!, position: plan.position[i]! };
}

function shapesMeta(a: ShapeAttributes, captionParts: number): ExampleMeta {
  const shape = SHAPES[a.shape]!;
  const colour = COLOURS[a.colour]!;
  const size = SIZES[a.size]!;
  const position = POSITIONS[a.position]!;
  const withSize = (captionParts & 1) !== 0;
  const withPosition = (captionParts & 2) !== 0;
  const caption = `a ${withSize ? size + " " : ""}${colour} ${shape}${withPosition ? " on the " + position : ""}`;
  const qa: QAPair[] = [
    { type: "colour", question: SHAPES_QUESTIONS.colour, answer: colour },
    { type: "shape", question: SHAPES_QUESTIONS.shape, answer: shape },
    { type: "size", question: SHAPES_QUESTIONS.size, answer: size },
    { type: "position", question: SHAPES_QUESTIONS.position, answer: position },
  ];
  return { label: a.shape, caption, qa, attrs: { shape, colour, size, position } };
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** Base RGB of each colour, in COLOURS order; each image varies it slightly. */
const COLOUR_RGB: ReadonlyArray<readonly [number, number, number]> = [
  [0.9, 0.12, 0.1], // red
  [0.15, 0.78, 0.2], // green
  [0.15, 0.3, 0.95], // blue
  [0.95, 0.88, 0.12], // yellow
  [0.62, 0.18, 0.82], // purple
  [0.1, 0.85, 0.9], // cyan
];

/** Nominal radius in pixels of small and large shapes. */
const RADIUS = [4, 7] as const;
/** Nominal centres (x, y) of left, right, top, bottom. */
const CENTRE: ReadonlyArray<readonly [number, number]> = [
  [9, 16],
  [23, 16],
  [16, 9],
  [16, 23],
];
const POSITION_JITTER = 2;
/** Every shape fits in this multiple of its radius (the triangle's vertices reach 1.2). */
const EXTENT = 1.2;
/** Half-width of the per-pixel noise, in [0, 1] intensity units. */
const NOISE_AMPLITUDE = 0.03;
/** Supersampling grid per pixel axis: coverage from 4×4 samples gives anti-aliased edges. */
const SUPERSAMPLE = 4;

// Star geometry: 5 points, outer radius 1.1, inner radius 0.45. In polar coordinates folded into
// one half-point (angle 0 at an outer vertex, 36° at an inner vertex) the star's edge is the
// straight segment from O = (outer, 0) to I = (inner·cos 36°, inner·sin 36°).
const STAR_OUTER = 1.1;
const STAR_INNER = 0.45;
const STAR_HALF = Math.PI / 5;
const STAR_IX = STAR_INNER * Math.cos(STAR_HALF);
const STAR_IY = STAR_INNER * Math.sin(STAR_HALF);
// Inside iff the point is on the same side of line OI as the origin: cross(I-O, P-O) ≥ 0 (the
// origin gives cross = STAR_EY·STAR_OUTER > 0).
const STAR_EX = STAR_IX - STAR_OUTER;
const STAR_EY = STAR_IY;

// Triangle pointing up (image y grows downwards): inside iff p·n ≤ 0.6 for the three outward
// edge normals at 90°, 210° and 330°, i.e. an equilateral triangle of circumradius 1.2.
const TRI_N = [90, 210, 330].map((deg) => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)] as const);

/** Radius (unit-radius shape coordinates) of a disc inside each shape, in SHAPES order. */
const INNER_DISC = [1, 0.82, 0.6, 0.3, (STAR_EY * STAR_OUTER) / Math.hypot(STAR_EX, STAR_EY)];
/** Radius of a disc containing each shape. */
const OUTER_DISC = [1, 0.82 * Math.SQRT2, 1.2, Math.hypot(1, 0.3), STAR_OUTER];

/** Is the point (x, y), in shape coordinates (unit radius, already rotated), inside `shape`? */
function inside(shape: number, x: number, y: number): boolean {
  switch (shape) {
    case 0: // circle
      return x * x + y * y <= 1;
    case 1: // square
      return Math.abs(x) <= 0.82 && Math.abs(y) <= 0.82;
    case 2: // triangle
      for (const [nx, ny] of TRI_N) if (x * nx + y * ny > 0.6) return false;
      return true;
    case 3: {
      // cross (a plus sign with arms of half-width 0.3)
      const ax = Math.abs(x);
      const ay = Math.abs(y);
      return (ax <= 1 && ay <= 0.3) || (ay <= 1 && ax <= 0.3);
    }
    case 4: {
      // star, point up
      const rho = Math.sqrt(x * x + y * y);
      if (rho > STAR_OUTER) return false;
      let angle = Math.atan2(x, -y); // 0 at the top point
      angle = ((angle % (2 * STAR_HALF)) + 2 * STAR_HALF) % (2 * STAR_HALF);
      const beta = angle > STAR_HALF ? 2 * STAR_HALF - angle : angle;
      const px = rho * Math.cos(beta) - STAR_OUTER;
      const py = rho * Math.sin(beta);
      return STAR_EX * py - STAR_EY * px >= 0;
    }
    default:
      throw new RangeError(`unknown shape index ${shape}`);
  }
}

/** Renders one image (32×32×3 bytes) for `attrs`, deterministic from `seed`. */
export function renderShapeImage(attrs: ShapeAttributes, seed: number): Uint8Array {
  const out = new Uint8Array(SHAPES_IMAGE_SIZE * SHAPES_IMAGE_SIZE * 3);
  renderShapeInto(out, 0, attrs, seed);
  return out;
}

const coverage = new Float32Array(SHAPES_IMAGE_SIZE * SHAPES_IMAGE_SIZE);

function renderShapeInto(out: Uint8Array, offset: number, a: ShapeAttributes, seed: number): void {
  const n = SHAPES_IMAGE_SIZE;
  const rng = createRng(0, seed);

  // Background: a dark grey with a slight tint and a gentle linear gradient.
  const grey = rng.uniform(0.08, 0.28);
  const tint = new Float64Array([rng.uniform(-0.04, 0.04), rng.uniform(-0.04, 0.04), rng.uniform(-0.04, 0.04)]);
  const gradX = rng.uniform(-0.06, 0.06);
  const gradY = rng.uniform(-0.06, 0.06);

  // Shape colour, varied per image in hue (per channel) and brightness.
  const base = COLOUR_RGB[a.colour]!;
  const brightness = rng.uniform(0.85, 1.05);
  const colour = Float64Array.from(base, (v) => clamp01((v + rng.uniform(-0.07, 0.07)) * brightness));

  // Geometry: radius, centre with jitter (kept inside the image), small rotation.
  const r = RADIUS[a.size]! * rng.uniform(0.9, 1.1);
  const margin = EXTENT * r + 0.5;
  const [nx, ny] = CENTRE[a.position]!;
  const cx = clamp(nx + rng.uniform(-POSITION_JITTER, POSITION_JITTER), margin, n - margin);
  const cy = clamp(ny + rng.uniform(-POSITION_JITTER, POSITION_JITTER), margin, n - margin);
  const theta = rng.uniform(-0.25, 0.25);
  const cos = Math.cos(theta) / r;
  const sin = Math.sin(theta) / r;

  // Coverage of each pixel in the shape's bounding box, from SUPERSAMPLE² samples.
  coverage.fill(0);
  const x0 = Math.max(0, Math.floor(cx - margin));
  const x1 = Math.min(n - 1, Math.ceil(cx + margin));
  const y0 = Math.max(0, Math.floor(cy - margin));
  const y1 = Math.min(n - 1, Math.ceil(cy + margin));
  const step = 1 / SUPERSAMPLE;
  const perSample = 1 / (SUPERSAMPLE * SUPERSAMPLE);
  // Pixels whose samples all lie within the shape's inner disc (or all beyond its outer one) need
  // no sampling: same result, a fraction of the work.
  const sampleReach = Math.SQRT1_2 * (1 - step) + 1e-6;
  const fullBelow = INNER_DISC[a.shape]! * r - sampleReach;
  const emptyAbove = OUTER_DISC[a.shape]! * r + sampleReach;
  for (let py = y0; py <= y1; py++) {
    for (let px = x0; px <= x1; px++) {
      const dist = Math.hypot(px + 0.5 - cx, py + 0.5 - cy);
      if (dist <= fullBelow) {
        coverage[py * n + px] = 1;
        continue;
      }
      if (dist >= emptyAbove) continue;
      let hits = 0;
      for (let sy = 0; sy < SUPERSAMPLE; sy++) {
        const dy = py + (sy + 0.5) * step - cy;
        for (let sx = 0; sx < SUPERSAMPLE; sx++) {
          const dx = px + (sx + 0.5) * step - cx;
          if (inside(a.shape, dx * cos + dy * sin, -dx * sin + dy * cos)) hits++;
        }
      }
      coverage[py * n + px] = hits * perSample;
    }
  }

  // Composite shape over background, add light noise, quantise. This loop runs 61 million times
  // for the training split, so the noise generator (mulberry32, as in rng.ts) is inlined, and one
  // 32-bit draw gives both 16-bit uniforms of the triangular noise.
  let noiseState = rng.int(2 ** 32) | 0;
  const noiseScale = NOISE_AMPLITUDE / 65536;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const cov = coverage[y * n + x]!;
      const shade = grey + gradX * (x / (n - 1) - 0.5) + gradY * (y / (n - 1) - 0.5);
      const o = offset + (y * n + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        noiseState = (noiseState + 0x6d2b79f5) | 0;
        let t = Math.imul(noiseState ^ (noiseState >>> 15), noiseState | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        t = (t ^ (t >>> 14)) >>> 0;
        // Triangular noise in ±NOISE_AMPLITUDE: cheaper than a normal draw, same look at this size.
        const noise = ((t & 0xffff) + (t >>> 16) - 65535) * noiseScale;
        const v = (shade + tint[ch]!) * (1 - cov) + colour[ch]! * cov + noise;
        out[o + ch] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
      }
    }
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function clamp01(v: number): number {
  return clamp(v, 0, 1);
}
