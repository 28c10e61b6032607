// Faster forms of six wasm kernels (tfjs-backend-wasm 4.22.0), registered over the stock ones.
//
// - Sum over leading (or any contiguous run of non-last) axes: every bias gradient (dense biases sum
//   dy over [B·N], conv biases over [N, H, W]), layer-norm β/γ gradients. The stock kernel first
//   transposes the reduced axes to the end and then sums rows; the transpose dominates ([131072, 32]
//   over axis 0: ~50 ms). Here it is XNNPACK's average pooling of x viewed as [P, M, 1, C] with an
//   [M, 1] window, times M (~1.1 ms; error against a float64 sum no larger than the stock kernel's).
//   (ones[1, M] · x as a 2-D matmul is fast only when x is reused: XNNPACK packs the right operand
//   as weights on every new tensor, 32 ms for the same sum.)
// - Transpose of a (size-1-squeezed) 2-D [R, C] tensor whose row count is a multiple of 128: the
//   stock 2-D loop writes with a stride of R floats, a power-of-two stride that thrashes the cache
//   ([1024, 128]: 1.2 ms vs 0.05 ms for [1088, 64]). The same permutation as a 3-D transpose of
//   [R/8, 8, C] by [2, 0, 1] gives identical output 2–3× faster.
// - Identity (the copy tfjs makes of every tensor it saves for the backward pass, ~420 a ViT step)
//   and Cast to the dtype a tensor already has (the Mul and Div gradients cast their other operand;
//   a ReLU gradient casts its 0/1 mask: 0.84 ms for CLIP's first activation): the stock kernels copy
//   the data; here the output shares the input's data and counts one more reference, as wasm's own
//   Reshape and native TensorFlow's Identity do. tfjs never writes into a tensor's data after it is
//   made (a variable's assign swaps in new data), so sharing is safe.
//
// - Reverse and GatherV2 (axis 0) as block copies: both are element-by-element loops in the stock
//   kernels, ~27 ns a value — 1.5 ms a KOSMOS step to flip two 3×3 filters for the conv input
//   gradient, 1.3 ms to look up 384 embedding rows. Here the contiguous runs after the last
//   reversed axis (a filter's whole [ci, co] block) or a table's rows are copied with
//   TypedArray.set, ~100× faster on these shapes.
//
// All six return exactly what the stock kernels return (the sum up to float rounding order), so
// gradients and outputs stay within the tests' tolerances. Only the wasm backend is touched.
import * as tf from "@tensorflow/tfjs-core";
import type { TensorInfo } from "@tensorflow/tfjs-core";
import { castSkippingNoOps, shareInput, wrapKernel, type StockKernel } from "./kernel-wrap.js";

let enabled = process.env["VLMC_WASM_KERNELS"] !== "0";
/** Turns the faster kernels off (stock behaviour) or on; for A/B measurements and equivalence tests. */
export function setWasmKernelsEnabled(on: boolean): void {
  enabled = on;
}

// The parts of the wasm backend used here (tfjs-backend-wasm's BackendWasm).
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

type Stock = StockKernel;

function sumFast(stockSum: Stock, avgPool: Stock): Stock {
  return (args) => {
    const x = args.inputs["x"]!;
    const backend = args.backend as WasmBackendLike;
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    if (!enabled || x.dtype !== "float32" || rank < 2) return stockSum(args);
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    // One contiguous run of axes that stops before the last axis: the case the stock kernel must
    // transpose. x viewed as [P, M, C], summed over M.
    if (axes.length === 0 || axes[axes.length - 1]! >= rank - 1 || axes.some((a, i) => a !== axes[0]! + i)) return stockSum(args);
    const p = tf.util.sizeFromShape(x.shape.slice(0, axes[0]!));
    const m = tf.util.sizeFromShape(axes.map((a) => x.shape[a]!));
    const c = tf.util.sizeFromShape(x.shape.slice(axes[axes.length - 1]! + 1));
    if (m <= 1 || p * c === 0) return stockSum(args);
    const out = avgPool({
      inputs: { x: { dataId: x.dataId, shape: [p, m, 1, c], dtype: "float32" } },
      backend,
      attrs: { filterSize: [m, 1], strides: [m, 1], pad: "valid" },
    });
    const values = backend.typedArrayFromHeap(out);
    for (let i = 0; i < values.length; i++) values[i]! *= m;
    out.shape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    return out;
  };
}

function transposeFast(stockTranspose: Stock): Stock {
  return (args) => {
    const x = args.inputs["x"]!;
    const perm = (args.attrs as { perm: number[] }).perm;
    const kept = x.shape.map((d, i) => [d, i] as const).filter(([d]) => d !== 1);
    const bytes4 = x.dtype === "float32" || x.dtype === "int32";
    if (!enabled || !bytes4 || kept.length !== 2) return stockTranspose(args);
    const keptPerm = perm.filter((p) => x.shape[p] !== 1);
    if (keptPerm[0] === kept[0]![1]) return stockTranspose(args); // order kept: a copy, not a transpose
    const [r, c] = [kept[0]![0], kept[1]![0]];
    if (r % 128 !== 0 || r * c < 4096) return stockTranspose(args);
    const out = stockTranspose({
      inputs: { x: { dataId: x.dataId, shape: [r / 8, 8, c], dtype: x.dtype } },
      backend: args.backend,
      attrs: { perm: [2, 0, 1] },
    });
    out.shape = perm.map((p) => x.shape[p]!);
    return out;
  };
}

function identityShared(stockIdentity: Stock): Stock {
  return (args) => {
    const x = args.inputs["x"]!;
    return !enabled || x.dtype === "string" ? stockIdentity(args) : shareInput(args, x);
  };
}

/** [...shape] strides in elements, row-major. */
function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  return strides;
}

function reverseFast(stockReverse: Stock): Stock {
  return (args) => {
    const x = args.inputs["x"]!;
    const backend = args.backend as WasmBackendLike;
    const bytes4 = x.dtype === "float32" || x.dtype === "int32";
    if (!enabled || !bytes4 || x.shape.length === 0) return stockReverse(args);
    const listed = tf.util.parseAxisParam((args.attrs as { dims: number | number[] }).dims, x.shape);
    const axes = new Set(listed);
    const last = Math.max(-1, ...axes);
    // An axis listed twice is flipped twice by the stock kernel (a no-op); leave such calls to it.
    if (last < 0 || axes.size !== listed.length) return stockReverse(args);
    // One block per position of the axes up to the last reversed one; each block contiguous.
    const outer = x.shape.slice(0, last + 1);
    const block = tf.util.sizeFromShape(x.shape.slice(last + 1));
    const strides = stridesOf(outer);
    const out = backend.makeOutput([...x.shape], x.dtype);
    // Views after the allocation: growing the wasm memory detaches older ones.
    const src = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    const count = tf.util.sizeFromShape(outer);
    for (let o = 0; o < count; o++) {
      let from = 0;
      for (let d = 0, rest = o; d <= last; d++) {
        const i = Math.floor(rest / strides[d]!);
        rest -= i * strides[d]!;
        from += (axes.has(d) ? outer[d]! - 1 - i : i) * strides[d]!;
      }
      dst.set(src.subarray(from * block, (from + 1) * block), o * block);
    }
    return out;
  };
}

function gatherRows(stockGather: Stock): Stock {
  return (args) => {
    const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
    const backend = args.backend as WasmBackendLike;
    const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
    const bytes4 = x.dtype === "float32" || x.dtype === "int32";
    if (!enabled || !bytes4 || indices.dtype !== "int32" || (batchDims ?? 0) !== 0 || x.shape.length === 0) return stockGather(args);
    if (tf.util.parseAxisParam(axis, x.shape)[0] !== 0) return stockGather(args);
    const rows = x.shape[0]!;
    const ids = backend.typedArrayFromHeap(indices) as unknown as Int32Array;
    // Out-of-range ids: the stock kernel throws its error.
    for (let i = 0; i < ids.length; i++) if (ids[i]! < 0 || ids[i]! >= rows) return stockGather(args);
    const width = tf.util.sizeFromShape(x.shape.slice(1));
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    const table = backend.typedArrayFromHeap(x);
    const dst = backend.typedArrayFromHeap(out);
    const idsNow = backend.typedArrayFromHeap(indices) as unknown as Int32Array;
    for (let i = 0; i < idsNow.length; i++) dst.set(table.subarray(idsNow[i]! * width, (idsNow[i]! + 1) * width), i * width);
    return out;
  };
}

/** Registers the faster Sum, Transpose, Identity, Cast, Reverse and GatherV2 over the wasm backend's. Idempotent. */
export function registerWasmKernels(): void {
  const avgPool = tf.getKernel("AvgPool", "wasm");
  if (!avgPool) return; // the wasm backend is not loaded
  wrapKernel("Sum", "wasm", (stock) => sumFast(stock, avgPool.kernelFunc as unknown as Stock));
  wrapKernel("Transpose", "wasm", transposeFast);
  wrapKernel("Identity", "wasm", identityShared);
  wrapKernel("Cast", "wasm", (stock) => castSkippingNoOps(stock, () => enabled));
  wrapKernel("Reverse", "wasm", reverseFast);
  wrapKernel("GatherV2", "wasm", gatherRows);
}
