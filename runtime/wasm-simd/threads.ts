// A second thread for wasm's large BatchMatMuls, Conv2Ds and Conv2D filter gradients (on by default
// where the machine has two cores or more; VLMC_WASM_THREADS=0 turns it off). The convs split by
// batch (conv2dThreaded, conv2dFilterGradThreaded, below); the rest of this comment is the GEMM's.
//
// tfjs-backend-wasm's memory is not shared, so the worker (gemm-worker.mjs) cannot read it. It runs
// kernels-shared.wasm (matmul.c, conv2d.c and kernels.c built for a shared memory) on a shared
// WebAssembly.Memory of our own: for a product of at least `minFlops`, the main thread copies the
// worker's part of the operands there (bump allocation from address 64, reset per call), writes the arguments into a
// small shared Int32Array and notifies; it then computes its own part in place on tfjs's memory
// with the ordinary kernels, waits for the worker's DONE word and copies (or, for a K split, adds)
// the worker's part of C into the output. The split:
//   - several products: by batch (the first half on the main thread);
//   - one product, A untransposed: by rows of C;
//   - one product, A transposed, B not: by K (each side a partial sum, C = C₀ + C₁);
//   - both transposed: not threaded.
// Anything that does not fit (worker failed to start, memory too small) returns false and the
// caller runs the single-threaded kernel; the first product to be split waits for the worker to
// start (see usable()), so that which products are split never depends on timing. A worker that fails mid-job makes the main thread redo
// the whole product itself.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { vlmcRoot } from "../native/location.js";
import type { WasmSimdKernels } from "./index.js";

export const KERNELS_SHARED_WASM = join(vlmcRoot(), "runtime", "wasm-simd", "kernels-shared.wasm");
export const GEMM_WORKER = join(vlmcRoot(), "runtime", "wasm-simd", "gemm-worker.mjs");

/** The shared memory's maximum (kernels-shared.wasm declares 1 GiB; scripts/build-wasm-kernels.mjs). */
const MAX_PAGES = 16384;
const PAGE = 65536;
// Control slots and kernel ids; the same numbers as gemm-worker.mjs.
const SEQ = 0, DONE = 1, READY = 2, STATUS = 3, KERNEL = 4, PARAMS = 5;
const BATCH_MATMUL = 0, CONV2D = 1, CONV2D_FILTER_GRAD = 2;
/** Bytes of the control block (PARAMS + 17 arguments fit). */
export const CONTROL_BYTES = 128;

let enabled = process.env["VLMC_WASM_THREADS"] !== "0";
/** Turns the threaded GEMM on or off (off: every product single-threaded); for A/B runs and tests. */
export function setWasmThreadsEnabled(on: boolean): void {
  enabled = on;
}

/** Products below this many flops (2·M·N·K·batch) stay single-threaded. */
let minFlops = Number(process.env["VLMC_WASM_THREADS_MIN_FLOPS"] ?? 8e6);
export function setWasmThreadsMinFlops(flops: number): void {
  minFlops = flops;
}

let runs = 0;
/** How many products took the threaded path (for tests). */
export function wasmThreadedRuns(): number {
  return runs;
}

interface Pool {
  worker: Worker;
  memory: WebAssembly.Memory;
  ctl: Int32Array;
  seq: number;
  failed: boolean;
}
let pool: Pool | null | undefined; // null: tried and failed

function start(): Pool | null {
  if (availableParallelism() < 2) return null; // a second thread would only take turns with this one
  try {
    const module = new WebAssembly.Module(readFileSync(KERNELS_SHARED_WASM));
    const memory = new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const worker = new Worker(GEMM_WORKER, { workerData: { module, memory, control }, execArgv: [] });
    worker.unref();
    const p: Pool = { worker, memory, ctl: new Int32Array(control), seq: 0, failed: false };
    worker.on("error", () => { p.failed = true; });
    worker.on("exit", () => { p.failed = true; });
    return p;
  } catch {
    return null;
  }
}

/** How long the first large product waits for the worker to start before giving up on it. */
const START_TIMEOUT_MS = 10000;

function usable(): Pool | undefined {
  pool ??= start();
  if (!pool || pool.failed) return undefined;
  // The first product big enough to split waits for the worker to start (tens of ms, once) rather
  // than running single-threaded meanwhile: a split K or batch sums in another order, so which
  // products ran split must not depend on how fast the worker started, or two runs with the same
  // seed would differ. A worker that does not start in time is never used.
  if (Atomics.load(pool.ctl, READY) === 0 && Atomics.wait(pool.ctl, READY, 0, START_TIMEOUT_MS) === "timed-out") pool.failed = true;
  if (pool.failed || Atomics.load(pool.ctl, READY) !== 1) return undefined;
  return pool;
}

/** Starts the worker (if it is not) and resolves once it can take jobs: true, or false if it cannot. */
export async function wasmThreadsReady(timeoutMs = 10000): Promise<boolean> {
  pool ??= start();
  const p = pool;
  if (!p) return false;
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && !p.failed) {
    const r = Atomics.load(p.ctl, READY);
    if (r !== 0) return r === 1;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return false;
}

const align = (v: number) => (v + 63) & ~63;

/**
 * c = the product batch_matmul(a, b, c, …) describes (byte offsets into `heap`, tfjs's memory), split
 * between this thread and the worker. `scratch` (matmulScratchBytes of the whole product, in
 * `heap`) serves the main thread's part. False, with nothing written, when the product is small or
 * the worker cannot take it: the caller runs it single-threaded.
 */
export function batchMatmulThreaded(simd: WasmSimdKernels, heap: WebAssembly.Memory, a: number, b: number, c: number,
  scratch: number, products: number, batchA: number, batchB: number, m: number, n: number, k: number,
  transA: boolean, transB: boolean): boolean {
  if (!enabled || 2 * products * m * n * k < minFlops) return false;
  const p = usable();
  if (!p) return false;
  const tA = transA ? 1 : 0, tB = transB ? 1 : 0;
  // The worker's operands, as float offsets into `heap` and lengths; its product's arguments.
  let aFrom: number, aLen: number, bFrom: number, bLen: number, cFrom: number, cLen: number;
  let wProducts: number, wBatchA: number, wBatchB: number, wm: number, wk: number;
  let main: () => void;
  let addC = false;
  const a4 = a >> 2, b4 = b >> 2, c4 = c >> 2;
  if (products >= 2) {
    const pb = products >> 1;
    wProducts = products - pb;
    wBatchA = batchA === 1 ? 1 : wProducts;
    wBatchB = batchB === 1 ? 1 : wProducts;
    aFrom = a4 + (batchA === 1 ? 0 : pb * m * k); aLen = wBatchA * m * k;
    bFrom = b4 + (batchB === 1 ? 0 : pb * k * n); bLen = wBatchB * k * n;
    cFrom = c4 + pb * m * n; cLen = wProducts * m * n;
    wm = m; wk = k;
    main = () => simd.batchMatmul(a, b, c, scratch, pb, batchA === 1 ? 1 : pb, batchB === 1 ? 1 : pb, m, n, k, tA, tB);
  } else if (!transA) {
    const m0 = ((m >> 1) + 3) & ~3; // a multiple of the 4-row tile
    if (m0 >= m) return false;
    wProducts = wBatchA = wBatchB = 1;
    wm = m - m0; wk = k;
    aFrom = a4 + m0 * k; aLen = wm * k;
    bFrom = b4; bLen = k * n;
    cFrom = c4 + m0 * n; cLen = wm * n;
    main = () => simd.batchMatmul(a, b, c, scratch, 1, 1, 1, m0, n, k, 0, tB);
  } else if (!transB) {
    const k0 = k >> 1;
    if (k0 === 0) return false;
    wProducts = wBatchA = wBatchB = 1;
    wm = m; wk = k - k0;
    aFrom = a4 + k0 * m; aLen = wk * m; // A stored [k, m]
    bFrom = b4 + k0 * n; bLen = wk * n; // B stored [k, n]
    cFrom = c4; cLen = m * n;
    addC = true;
    main = () => simd.batchMatmul(a, b, c, scratch, 1, 1, 1, m, n, k0, 1, 0);
  } else {
    return false;
  }
  // The worker's layout in shared memory.
  const sa = 64, sb = align(sa + aLen * 4), sc = align(sb + bLen * 4), ss = align(sc + cLen * 4);
  const sh = reserve(p, ss + simd.matmulScratchBytes(wm, n, wk));
  if (!sh) return false;
  const hp = new Float32Array(heap.buffer);
  sh.set(hp.subarray(aFrom, aFrom + aLen), sa >> 2);
  sh.set(hp.subarray(bFrom, bFrom + bLen), sb >> 2);
  if (!runSplit(p, BATCH_MATMUL, [sa, sb, sc, ss, wProducts, wBatchA, wBatchB, wm, n, wk, tA, tB], main)) {
    simd.batchMatmul(a, b, c, scratch, products, batchA, batchB, m, n, k, tA, tB);
    return true;
  }
  const out = new Float32Array(heap.buffer);
  if (addC) {
    for (let i = 0, s = sc >> 2; i < cLen; i++) out[cFrom + i]! += sh[s + i]!;
  } else {
    out.set(sh.subarray(sc >> 2, (sc >> 2) + cLen), cFrom);
  }
  runs++;
  return true;
}

/**
 * The shared memory as floats, grown to at least `end` bytes; undefined when it cannot be (the
 * caller then runs single-threaded).
 */
function reserve(p: Pool, end: number): Float32Array | undefined {
  if (end > MAX_PAGES * PAGE) return undefined;
  const have = p.memory.buffer.byteLength;
  if (end > have) {
    try {
      p.memory.grow(Math.ceil((end - have) / PAGE));
    } catch {
      return undefined; // no memory for the copies: single-threaded
    }
  }
  return new Float32Array(p.memory.buffer);
}

/**
 * Posts job `kernel(args)` to the worker, runs `main` (this thread's part) meanwhile and waits for
 * the worker: true when it finished its part, false when it failed (the pool is then marked failed
 * and the caller redoes the whole operation itself).
 */
function runSplit(p: Pool, kernel: number, args: number[], main: () => void): boolean {
  const ctl = p.ctl;
  ctl[KERNEL] = kernel;
  for (let i = 0; i < args.length; i++) ctl[PARAMS + i] = args[i]!;
  const seq = (p.seq = (p.seq + 1) | 0);
  Atomics.store(ctl, STATUS, 0);
  Atomics.store(ctl, SEQ, seq);
  Atomics.notify(ctl, SEQ, 1);
  let ok = false;
  try {
    main();
  } finally {
    // Whatever happened here, the worker must be done with the shared memory before it is reused.
    ok = waitDone(p, seq);
  }
  if (!ok) p.failed = true;
  return ok;
}

/**
 * y = conv2d(x, filter) as WasmSimdKernels.conv2d describes (byte offsets into `heap`), split by
 * batch: the worker convolves images [n0, n) (their x rows and the filter copied to shared memory,
 * its y rows copied back), this thread images [0, n0) in place. `scratch`: conv2dScratchBytes, in
 * `heap`. False, with nothing written, when n < 2, the conv is small or the worker cannot take it.
 */
export function conv2dThreaded(simd: WasmSimdKernels, heap: WebAssembly.Memory, x: number, filter: number, y: number,
  scratch: number, n: number, h: number, w: number, ci: number, ho: number, wo: number, co: number, kh: number, kw: number,
  sh: number, sw: number, pt: number, pl: number): boolean {
  if (!enabled || n < 2 || 2 * n * ho * wo * co * kh * kw * ci < minFlops) return false;
  const p = usable();
  if (!p) return false;
  const n0 = n >> 1, wn = n - n0;
  const xImg = h * w * ci, yImg = ho * wo * co, fLen = kh * kw * ci * co;
  const sx = 64, sf = align(sx + wn * xImg * 4), sy = align(sf + fLen * 4), ss = align(sy + wn * yImg * 4);
  const mem = reserve(p, ss + simd.conv2dScratchBytes(kh, kw, ci, co));
  if (!mem) return false;
  const hp = new Float32Array(heap.buffer);
  const xFrom = (x >> 2) + n0 * xImg;
  mem.set(hp.subarray(xFrom, xFrom + wn * xImg), sx >> 2);
  mem.set(hp.subarray(filter >> 2, (filter >> 2) + fLen), sf >> 2);
  const args = [sx, sf, sy, ss, wn, h, w, ci, ho, wo, co, kh, kw, sh, sw, pt, pl];
  const main = () => simd.conv2d(x, filter, y, scratch, n0, h, w, ci, ho, wo, co, kh, kw, sh, sw, pt, pl);
  if (!runSplit(p, CONV2D, args, main)) {
    simd.conv2d(x, filter, y, scratch, n, h, w, ci, ho, wo, co, kh, kw, sh, sw, pt, pl);
    return true;
  }
  new Float32Array(heap.buffer).set(mem.subarray(sy >> 2, (sy >> 2) + wn * yImg), (y >> 2) + n0 * yImg);
  runs++;
  return true;
}

/**
 * dw = conv2d_filter_grad(x, dy) as WasmSimdKernels.conv2dFilterGrad describes, split by batch:
 * the worker sums images [n0, n) into a dW of its own (their x and dy rows copied to shared
 * memory), this thread images [0, n0) into dw in place; the worker's dW is then added into dw.
 * `scratch`: conv2dFilterGradScratchBytes, in `heap`. False, with nothing written, when n < 2,
 * the gradient is small or the worker cannot take it.
 */
export function conv2dFilterGradThreaded(simd: WasmSimdKernels, heap: WebAssembly.Memory, x: number, dy: number,
  dw: number, scratch: number, n: number, h: number, w: number, ci: number, ho: number, wo: number, co: number, kh: number,
  kw: number, sh: number, sw: number, pt: number, pl: number): boolean {
  if (!enabled || n < 2 || 2 * n * ho * wo * co * kh * kw * ci < minFlops) return false;
  const p = usable();
  if (!p) return false;
  const n0 = n >> 1, wn = n - n0;
  const xImg = h * w * ci, dyImg = ho * wo * co, wLen = kh * kw * ci * co;
  const sx = 64, sd = align(sx + wn * xImg * 4), sdw = align(sd + wn * dyImg * 4), ss = align(sdw + wLen * 4);
  const mem = reserve(p, ss + simd.conv2dFilterGradScratchBytes(kh, kw, ci, co));
  if (!mem) return false;
  const hp = new Float32Array(heap.buffer);
  const xFrom = (x >> 2) + n0 * xImg, dyFrom = (dy >> 2) + n0 * dyImg;
  mem.set(hp.subarray(xFrom, xFrom + wn * xImg), sx >> 2);
  mem.set(hp.subarray(dyFrom, dyFrom + wn * dyImg), sd >> 2);
  const args = [sx, sd, sdw, ss, wn, h, w, ci, ho, wo, co, kh, kw, sh, sw, pt, pl];
  const main = () => simd.conv2dFilterGrad(x, dy, dw, scratch, n0, h, w, ci, ho, wo, co, kh, kw, sh, sw, pt, pl);
  if (!runSplit(p, CONV2D_FILTER_GRAD, args, main)) {
    simd.conv2dFilterGrad(x, dy, dw, scratch, n, h, w, ci, ho, wo, co, kh, kw, sh, sw, pt, pl);
    return true;
  }
  const out = new Float32Array(heap.buffer);
  for (let i = 0, o = dw >> 2, s = sdw >> 2; i < wLen; i++) out[o + i]! += mem[s + i]!;
  runs++;
  return true;
}

/** Waits for the worker to finish job `seq`: true when it did, false on an error or a 30 s timeout. */
function waitDone(p: Pool, seq: number): boolean {
  const ctl = p.ctl;
  // A short spin first: the halves usually finish close together, and a futex wake costs more.
  for (let i = 0; i < 2000; i++) if (Atomics.load(ctl, DONE) === seq) return Atomics.load(ctl, STATUS) === 1;
  for (;;) {
    const d = Atomics.load(ctl, DONE);
    if (d === seq) return Atomics.load(ctl, STATUS) === 1;
    if (p.failed) return false;
    if (Atomics.wait(ctl, DONE, d, 30000) === "timed-out") return false;
  }
}
