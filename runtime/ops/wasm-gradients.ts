// Gradient lowerings for the wasm backend.
//
// Stock tfjs gradients on wasm either fail (Conv2D's filter gradient needs Conv2DBackpropFilter, the
// gather gradient needs UnsortedSegmentSum: wasm has neither) or crawl (BatchMatMul with transpose
// flags and Conv2DBackpropInput run scalar loops; only an untransposed batch-1 matmul and the forward
// conv reach XNNPACK), and wasm's MaxPoolGrad is wrong on all-negative windows. Each lowering below
// rewrites a gradient onto wasm's fast forward kernels (or, for MaxPool, a plain JS loop).
// ../shared/notes/tfjs-backends.md has the measurements.
//
// Mechanism: tfjs keeps one gradient registry for all backends, so instead of replacing a gradient
// we wrap it. The wrapper keeps the stock gradient's saved inputs and, when the gradient is built,
// picks the lowering if the active backend is one that needs it (wasm), else the stock gradient.
// So registering is harmless for cpu and tensorflow, and a process may switch backends freely.
import * as tf from "@tensorflow/tfjs-core";
import type { GradConfig, NamedAttrMap, Tensor, TensorInfo } from "@tensorflow/tfjs-core";
import { conv2dFilterGradSimd, registerConv2DFilterGradKernel } from "../wasm-simd/conv2d-filter-grad.js";
import { heapOffset, wasmSimdKernels, type WasmBackendHeap } from "../wasm-simd/index.js";
import { wasmGemmActive } from "../wasm-simd/matmul.js";

type GradFunc = NonNullable<GradConfig["gradFunc"]>;
type GradResult = ReturnType<GradFunc>;

/** Backends whose gradients are lowered. */
const LOWERED_BACKENDS = new Set(["wasm"]);
let simulatedBackend: string | undefined;

/** True when gradients built now should use the lowerings. */
export function loweringsActive(): boolean {
  return LOWERED_BACKENDS.has(simulatedBackend ?? tf.getBackend());
}

/**
 * Runs `fn` with gradients built as they would be on `backend`, whichever backend actually runs.
 * Used to discover, on cpu, which kernels a backward pass would need on wasm.
 */
export function withGradientsOf<T>(backend: string, fn: () => T): T {
  const before = simulatedBackend;
  simulatedBackend = backend;
  try {
    return fn();
  } finally {
    simulatedBackend = before;
  }
}

/** Swaps the last two axes, materialised (a real Transpose kernel, not a matmul flag). */
function swapLast2(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return tf.transpose(x, perm);
}

function mm(a: Tensor, b: Tensor): Tensor {
  return tf.matMul(a, b, false, false);
}

/**
 * BatchMatMul: y = op(a) · op(b). The four flag combinations. Where our GEMM runs wasm's
 * BatchMatMul (runtime/wasm-simd/matmul.ts) the products take transpose flags, which its packing
 * absorbs (ViT's dense dW 0.25 → 0.18 ms, no Transpose kernels); on the stock kernel, whose flags
 * take a scalar loop, the transposes are materialised so every product is a plain untransposed
 * matmul. Returns undefined when batch dims broadcast (the stock gradient handles that reduction).
 */
export function matMulGradLowered(dy: Tensor, a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): { a: () => Tensor; b: () => Tensor } | undefined {
  if (a.rank !== b.rank || !tf.util.arraysEqual(a.shape.slice(0, -2), b.shape.slice(0, -2))) return undefined;
  if (wasmGemmActive()) {
    if (!transposeA && !transposeB) return { a: () => tf.matMul(dy, b, false, true), b: () => tf.matMul(a, dy, true, false) };
    if (!transposeA && transposeB) return { a: () => tf.matMul(dy, b), b: () => tf.matMul(dy, a, true, false) };
    if (transposeA && !transposeB) return { a: () => tf.matMul(b, dy, false, true), b: () => tf.matMul(a, dy) };
    return { a: () => tf.matMul(b, dy, true, true), b: () => tf.matMul(dy, a, true, true) };
  }
  if (!transposeA && !transposeB) return { a: () => mm(dy, swapLast2(b)), b: () => mm(swapLast2(a), dy) };
  if (!transposeA && transposeB) return { a: () => mm(dy, b), b: () => mm(swapLast2(dy), a) };
  if (transposeA && !transposeB) return { a: () => mm(b, swapLast2(dy)), b: () => mm(a, dy) };
  return { a: () => mm(swapLast2(b), swapLast2(dy)), b: () => mm(swapLast2(dy), swapLast2(a)) };
}

interface Conv2DAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number;
  dilations?: number | [number, number];
  dimRoundingMode?: "floor" | "round" | "ceil";
  dataFormat?: string;
}

function pair(v: number | [number, number] | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  return typeof v === "number" ? [v, v] : v;
}

/**
 * Conv2D (NHWC, HWIO, no dilation) gradients as forward convolutions:
 * - dx: the stride-dilated dy, padded to a "full" convolution, convolved with the spatially flipped
 *   filter whose in/out channels are swapped.
 * - dW: a convolution of the padded input, with its batch axis as channels and its channels as
 *   batch, by dy used as the filter (dilated by the stride). (An im2col form, k·k slices of x and
 *   one 2-D matmul, measured ~30× slower for LeNet-5's one-channel first layer: wasm's Slice is slow
 *   on few channels.)
 * Returns undefined for configurations it does not cover (dilated or NCHW convs). Both gradients
 * are thunks: tfjs asks only for the inputs on the path to a variable, so a first layer's input
 * gradient (the image's) is never computed — it was a fifth of a LeNet-5 step.
 */
export function conv2dGradLowered(dy: Tensor, x: Tensor, filter: Tensor, attrs: Conv2DAttrs): { x: () => Tensor; filter: () => Tensor } | undefined {
  const [dh, dw] = pair(attrs.dilations, 1);
  if (dh !== 1 || dw !== 1) return undefined;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== "NHWC") return undefined;
  const [sh, sw] = pair(attrs.strides, 1);
  const x4 = x as tf.Tensor4D;
  const f4 = filter as tf.Tensor4D;
  const info = tf.backend_util.computeConv2DInfo(
    x4.shape, f4.shape, [sh, sw], [1, 1], attrs.pad as "valid" | "same", attrs.dimRoundingMode);
  const { top, bottom, left, right } = info.padInfo;
  const [kh, kw, , ] = f4.shape;
  const [n, h, w] = x4.shape;
  const [, ho, wo, co] = (dy as tf.Tensor4D).shape;

  // dx: insert stride-1 zeros between dy's rows and columns, then a valid stride-1 conv.
  const inputGrad = (): Tensor => {
    let dyDilated = dy as tf.Tensor4D;
    if (sh > 1 || sw > 1) {
      const spread = tf.pad(tf.reshape(dy, [n, ho, 1, wo, 1, co]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
      dyDilated = tf.slice(tf.reshape(spread, [n, ho * sh, wo * sw, co]), [0, 0, 0, 0], [n, (ho - 1) * sh + 1, (wo - 1) * sw + 1, co]) as tf.Tensor4D;
    }
    const hd = (ho - 1) * sh + 1;
    const wd = (wo - 1) * sw + 1;
    const padTop = kh - 1 - top;
    const padLeft = kw - 1 - left;
    const padBottom = h + kh - 1 - hd - padTop;
    const padRight = w + kw - 1 - wd - padLeft;
    const dyPadded = padOrCrop(dyDilated, padTop, padBottom, padLeft, padRight);
    const flipped = tf.transpose(tf.reverse(f4, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(dyPadded, flipped, 1, "valid");
  };

  // dW[a, b, ci, co] = sum over n, i, j of xpad[n, i*s + a, j*s + b, ci] * dy[n, i, j, co].
  const filterGrad = (): Tensor => {
    // Our SIMD kernel on wasm (runtime/wasm-simd); this forward-conv form elsewhere or without it.
    const simd = conv2dFilterGradSimd(x4, dy, [kh, kw], [sh, sw], top, left);
    if (simd) return simd;
    const xPadded = padOrCrop(x4, top, bottom, left, right);
    const xAsBatch = tf.transpose(xPadded, [3, 1, 2, 0]) as tf.Tensor4D; // [ci, Hp, Wp, n]
    const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [ho, wo, n, co]
    const full = tf.conv2d(xAsBatch, dyAsFilter, 1, "valid", "NHWC", [sh, sw]); // [ci, >=kh, >=kw, co]
    const cropped = tf.slice(full, [0, 0, 0, 0], [full.shape[0], kh, kw, full.shape[3]]);
    return tf.transpose(cropped, [1, 2, 0, 3]);
  };
  return { x: inputGrad, filter: filterGrad };
}

/** Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor. */
function padOrCrop(t: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  let out = t;
  const pt = Math.max(top, 0), pb = Math.max(bottom, 0), pl = Math.max(left, 0), pr = Math.max(right, 0);
  if (pt || pb || pl || pr) out = tf.pad(out, [[0, 0], [pt, pb], [pl, pr], [0, 0]]);
  const ct = Math.max(-top, 0), cb = Math.max(-bottom, 0), cl = Math.max(-left, 0), cr = Math.max(-right, 0);
  if (ct || cb || cl || cr) {
    const [n, h, w, c] = out.shape;
    out = tf.slice(out, [0, ct, cl, 0], [n, h - ct - cb, w - cl - cr, c]);
  }
  return out;
}

/**
 * GatherV2 along axis 0 (embedding lookups): dx via scatterND, which sums the rows of duplicate
 * indices exactly like the missing UnsortedSegmentSum would.
 */
export function gatherGradLowered(dy: Tensor, x: Tensor, indices: Tensor, attrs: { axis: number; batchDims: number }): Tensor | undefined {
  if (attrs.batchDims !== 0) return undefined;
  const axis = attrs.axis < 0 ? attrs.axis + x.rank : attrs.axis;
  if (axis !== 0) return undefined;
  const rows = tf.reshape(dy, [indices.size, ...x.shape.slice(1)]);
  return tf.scatterND(tf.reshape(tf.cast(indices, "int32"), [indices.size, 1]), rows, x.shape);
}

/** Rsqrt's stock gradient uses pow(x, 1.5), slow on wasm: d/dx x^-1/2 = -0.5 · y / x. */
function rsqrtGradLowered(dy: Tensor, x: Tensor): Tensor {
  return tf.mul(dy, tf.div(tf.mul(tf.rsqrt(x), -0.5), x));
}

type MaxPoolAttrs = { filterSize: number | [number, number]; strides: number | [number, number]; pad: "valid" | "same" | number; dimRoundingMode?: "floor" | "round" | "ceil" };

/**
 * MaxPool's gradient, computed in JS. wasm's MaxPoolGrad kernel (4.22.0) misroutes the gradient of a
 * window whose values are all negative (e.g. to its first element; test/ops-gradients.test.ts). The loop is the
 * definition: each output's gradient goes to the first maximum of its window, as tfjs cpu and
 * TensorFlow do. On wasm it runs as a kernel of our own (VlmcMaxPoolGrad) directly on the wasm
 * heap; reading x and dy out and writing dx back cost more than the loop (CLIP's 128×32×32×32
 * pool: ~45 ms with the copies, under load).
 */
export function maxPoolGradLowered(dy: Tensor, x: Tensor, attrs: MaxPoolAttrs): Tensor {
  if (tf.getBackend() === "wasm" && x.dtype === "float32" && dy.dtype === "float32") {
    return tf.engine().runKernel(MAX_POOL_GRAD_KERNEL, { dy, x }, attrs as unknown as NamedAttrMap) as Tensor;
  }
  const dx = new Float32Array(x.size);
  maxPoolGradLoop(x.dataSync() as Float32Array, dy.dataSync() as Float32Array, dx, x.shape, attrs);
  return tf.tensor(dx, x.shape, "float32");
}

/** dx += the routed dy (dx must hold zeros). */
function maxPoolGradLoop(xs: Float32Array, dys: Float32Array, dx: Float32Array, shape: number[], attrs: MaxPoolAttrs): void {
  const info = tf.backend_util.computePool2DInfo(
    shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: kh, effectiveFilterWidth: kw } = info;
  const { top, left } = info.padInfo;
  // Channels innermost: the per-channel running maxima of one window are updated in memory order.
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let b = 0; b < n; b++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
    let first = true;
    for (let a = 0; a < kh; a++) {
      const y = i * sh + a - top;
      if (y < 0 || y >= h) continue;
      for (let e = 0; e < kw; e++) {
        const xx = j * sw + e - left;
        if (xx < 0 || xx >= w) continue;
        const base = ((b * h + y) * w + xx) * c;
        if (first) {
          for (let ch = 0; ch < c; ch++) { best[ch] = xs[base + ch]!; at[ch] = base + ch; }
          first = false;
        } else {
          for (let ch = 0; ch < c; ch++) {
            const v = xs[base + ch]!;
            if (v > best[ch]!) { best[ch] = v; at[ch] = base + ch; }
          }
        }
      }
    }
    if (first) continue; // a window entirely in the padding
    const out = ((b * ho + i) * wo + j) * c;
    for (let ch = 0; ch < c; ch++) dx[at[ch]!]! += dys[out + ch]!;
  }
}

export const MAX_POOL_GRAD_KERNEL = "VlmcMaxPoolGrad";

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/**
 * The wasm kernel: our SIMD kernel (runtime/wasm-simd, the same semantics bit for bit), else the
 * same loop over views of the wasm heap; no copies either way. The SIMD conv filter-gradient
 * kernel is registered here too, so that it exists before anything lists the wasm kernels
 * (bench/profile.ts wraps them all at start-up).
 */
function registerMaxPoolGradKernel(): void {
  registerConv2DFilterGradKernel();
  if (tf.getKernel(MAX_POOL_GRAD_KERNEL, "wasm")) return;
  tf.registerKernel({
    kernelName: MAX_POOL_GRAD_KERNEL,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WasmHeapBackend & WasmBackendHeap;
      const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
      const out = be.makeOutput([...x.shape], "float32");
      const simd = wasmSimdKernels(be);
      if (simd) {
        const a = attrs as unknown as MaxPoolAttrs;
        const p = tf.backend_util.computePool2DInfo(
          x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
        simd.maxPoolGrad(heapOffset(be, x), heapOffset(be, dy), heapOffset(be, out), p.batchSize, p.inHeight, p.inWidth, p.inChannels,
          p.outHeight, p.outWidth, p.effectiveFilterHeight, p.effectiveFilterWidth, p.strideHeight, p.strideWidth, p.padInfo.top, p.padInfo.left);
        return out;
      }
      // Views after the allocation: growing the wasm memory detaches older ones.
      const dx = be.typedArrayFromHeap(out);
      dx.fill(0);
      maxPoolGradLoop(be.typedArrayFromHeap(x), be.typedArrayFromHeap(dy), dx, x.shape, attrs as unknown as MaxPoolAttrs);
      return out;
    },
  });
}

type Lowering = (dy: Tensor, saved: Tensor[], attrs: NamedAttrMap) => GradResult | undefined;

const LOWERINGS: Record<string, Lowering> = {
  BatchMatMul: (dy, [a, b], attrs) => {
    const r = matMulGradLowered(dy, a!, b!, Boolean(attrs.transposeA), Boolean(attrs.transposeB));
    return r;
  },
  Conv2D: (dy, [x, filter], attrs) => {
    const r = conv2dGradLowered(dy, x!, filter!, attrs as unknown as Conv2DAttrs);
    return r;
  },
  GatherV2: (dy, [x, indices], attrs) => {
    const r = gatherGradLowered(dy, x!, indices!, attrs as unknown as { axis: number; batchDims: number });
    return r && { x: () => r, indices: () => tf.zerosLike(indices!) };
  },
  MaxPool: (dy, [x], attrs) => ({
    x: () => maxPoolGradLowered(dy, x!, attrs as unknown as MaxPoolAttrs),
  }),
  Rsqrt: (dy, [x]) => ({ x: () => rsqrtGradLowered(dy, x!) }),
};

/** The kernels whose gradients are lowered on wasm. */
export const LOWERED_KERNELS = Object.keys(LOWERINGS);

const WRAPPED = Symbol.for("vlmc.wasmGradientWrapper");

/**
 * Wraps the stock gradients of LOWERED_KERNELS with the backend dispatch. Idempotent (also across
 * module reloads: a wrapped gradient is marked and never wrapped twice).
 */
export function registerWasmGradients(): void {
  registerMaxPoolGradKernel();
  for (const kernelName of LOWERED_KERNELS) {
    const stock = tf.getGradient(kernelName);
    if (!stock || (stock.gradFunc as unknown as Record<symbol, boolean>)[WRAPPED]) continue;
    const lowering = LOWERINGS[kernelName]!;
    const gradFunc: GradFunc = (dy, saved, attrs) => {
      if (loweringsActive() && !Array.isArray(dy)) {
        const lowered = lowering(dy, saved, attrs);
        if (lowered) return lowered;
      }
      return stock.gradFunc(dy, saved, attrs);
    };
    (gradFunc as unknown as Record<symbol, boolean>)[WRAPPED] = true;
    tf.unregisterGradient(kernelName);
    tf.registerGradient({ ...stock, gradFunc });
  }
}
