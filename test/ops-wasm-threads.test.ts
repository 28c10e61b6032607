// The threaded BatchMatMul (runtime/wasm-simd/threads.ts, gemm-worker.mjs, kernels-shared.wasm):
// with the threaded path forced on for every size, products split by rows, by K and by batch equal
// tfjs cpu, and the threaded path ran; the shared module passes the build's safety check; a process
// whose worker waits for jobs still exits by itself (the worker is unref'd).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { vlmcRoot } from "../runtime/native/location.js";
import * as tf from "@tensorflow/tfjs-core";
import {
  CONTROL_BYTES, GEMM_WORKER, KERNELS_SHARED_WASM, setWasmThreadsEnabled, setWasmThreadsMinFlops, wasmThreadedRuns, wasmThreadsReady,
} from "../runtime/wasm-simd/threads.js";
import { numel, randomArray, relativeError, useBackend } from "./ops-support.js";
import { BUILD_SCRIPT, expectRebuildMatches, haveClang } from "./wasm-build-support.js";
import { setWasmConvEveryShape } from "../runtime/wasm-simd/conv2d.js";
import { conv2dFilterGradSimd } from "../runtime/wasm-simd/conv2d-filter-grad.js";

type Case = { as: number[]; bs: number[]; ta: boolean; tb: boolean };
const SIZES: Array<[number, number, number]> = [
  [2, 1, 1], [5, 3, 17], [17, 16, 17], [64, 64, 64], [130, 7, 9], [9, 130, 65], [33, 300, 12], [37, 513, 70], [70, 20, 530],
];
const BATCHES: Array<[number[], number[]]> = [[[], []], [[3], [3]], [[1], [3]], [[3], []], [[2, 3], [2, 3]], [[2], [1]]];
const shapes = (lead: number[], rows: number, cols: number, t: boolean) => [...lead, ...(t ? [cols, rows] : [rows, cols])];
const CASES: Case[] = [];
for (const [m, k, n] of SIZES) for (const [la, lb] of BATCHES) for (const ta of [false, true]) for (const tb of [false, true]) {
  CASES.push({ as: shapes(la, m, k, ta), bs: shapes(lb, k, n, tb), ta, tb });
}

async function product(backend: "cpu" | "wasm", c: Case, a: Float32Array, b: Float32Array) {
  await useBackend(backend);
  const y = tf.tidy(() => tf.matMul(tf.tensor(a, c.as), tf.tensor(b, c.bs), c.ta, c.tb));
  const out = { shape: y.shape, data: (await y.data()) as Float32Array };
  y.dispose();
  return out;
}

// A one-core machine never starts the worker.
describe.skipIf(availableParallelism() < 2)("threaded BatchMatMul on wasm", () => {
  beforeAll(async () => {
    await useBackend("wasm");
    setWasmThreadsEnabled(true);
    setWasmThreadsMinFlops(0);
    expect(await wasmThreadsReady()).toBe(true);
  });
  afterAll(() => {
    setWasmThreadsEnabled(process.env["VLMC_WASM_THREADS"] !== "0");
    setWasmThreadsMinFlops(8e6);
  });

  test.each(CASES.map((c) => [JSON.stringify(c.as), JSON.stringify(c.bs), c.ta, c.tb, c] as const))(
    "a %s · b %s, transposeA %s transposeB %s", async (_a, _b, _ta, _tb, c) => {
      const a = randomArray(numel(c.as), 1), b = randomArray(numel(c.bs), 2);
      const ref = await product("cpu", c, a, b);
      const before = wasmThreadedRuns();
      const ours = await product("wasm", c, a, b);
      const threaded = wasmThreadedRuns() - before;
      // Not split: one product with both flags (no split without a strided copy), or nothing to split.
      const single = numel(c.as.slice(0, -2)) <= 1 && numel(c.bs.slice(0, -2)) <= 1;
      const m = c.ta ? c.as.at(-1)! : c.as.at(-2)!, k = c.ta ? c.as.at(-2)! : c.as.at(-1)!;
      const folded = !c.ta && numel(c.bs.slice(0, -2)) === 1; // a batch against one B is one taller product
      const rows = folded ? numel(c.as.slice(0, -2)) * m : m;
      const expectThreaded = !(single || folded) || (!c.ta ? rows > 4 : !c.tb && k > 1);
      expect(threaded, "threaded path ran").toBe(expectThreaded ? 1 : 0);
      expect(ours.shape).toEqual(ref.shape);
      expect(relativeError(ours.data, ref.data)).toBeLessThan(1e-5);
    });

  test("a large product (several row and K blocks) equals cpu", async () => {
    for (const c of [{ as: [300, 600], bs: [600, 520], ta: false, tb: false }, { as: [600, 300], bs: [600, 520], ta: true, tb: false }]) {
      const a = randomArray(numel(c.as), 3), b = randomArray(numel(c.bs), 4);
      const ref = await product("cpu", c, a, b);
      const before = wasmThreadedRuns();
      const ours = await product("wasm", c, a, b);
      expect(wasmThreadedRuns() - before).toBe(1);
      expect(relativeError(ours.data, ref.data)).toBeLessThan(1e-5);
    }
  });

  // Conv2D and its filter gradient split by batch: threaded against single-threaded, same kernel.
  type Conv = { xs: [number, number, number, number]; ks: [number, number, number, number]; strides: [number, number]; pad: "same" | "valid" };
  const CONVS: Conv[] = [
    { xs: [2, 7, 6, 3], ks: [3, 3, 3, 6], strides: [1, 1], pad: "same" },
    { xs: [3, 9, 10, 5], ks: [5, 5, 5, 17], strides: [2, 2], pad: "same" },
    { xs: [5, 8, 8, 16], ks: [3, 3, 16, 16], strides: [2, 2], pad: "valid" },
    { xs: [4, 12, 12, 32], ks: [3, 3, 32, 64], strides: [1, 1], pad: "same" },
    { xs: [3, 11, 13, 1], ks: [3, 3, 1, 16], strides: [2, 1], pad: "valid" },
    { xs: [7, 6, 6, 64], ks: [1, 1, 64, 17], strides: [1, 1], pad: "valid" },
    { xs: [1, 9, 9, 8], ks: [3, 3, 8, 16], strides: [1, 1], pad: "same" }, // n = 1: not split
  ];
  const convInfo = (c: Conv) => tf.backend_util.computeConv2DInfo(c.xs, c.ks, c.strides, 1, c.pad);

  /** f on wasm with the threaded path on or off: its result and how many threaded runs it took. */
  async function withThreads(on: boolean, f: () => tf.Tensor) {
    await useBackend("wasm");
    setWasmThreadsEnabled(on);
    const before = wasmThreadedRuns();
    try {
      const y = f();
      const out = { shape: y.shape, data: (await y.data()) as Float32Array };
      y.dispose();
      return { ...out, threaded: wasmThreadedRuns() - before };
    } finally {
      setWasmThreadsEnabled(true);
    }
  }

  /** `run` threaded equals `run` single-threaded, and took the split exactly when there are 2+ images. */
  async function expectSplitByBatch(c: (typeof CONVS)[number], run: () => tf.Tensor): Promise<void> {
    const ref = await withThreads(false, run);
    const ours = await withThreads(true, run);
    expect(ref.threaded).toBe(0);
    expect(ours.threaded, "threaded path ran").toBe(c.xs[0] >= 2 ? 1 : 0);
    expect(ours.shape).toEqual(ref.shape);
    expect(relativeError(ours.data, ref.data)).toBeLessThan(1e-5);
  }

  test.each(CONVS.map((c) => [JSON.stringify(c.xs), JSON.stringify(c.ks), JSON.stringify(c.strides), c.pad, c] as const))(
    "conv2d x %s filter %s strides %s %s", async (_x, _k, _s, _p, c) => {
      const x = randomArray(numel(c.xs), 5), k = randomArray(numel(c.ks), 6);
      setWasmConvEveryShape(true);
      try {
        await expectSplitByBatch(c, () => tf.tidy(() => tf.conv2d(tf.tensor4d(x, c.xs), tf.tensor4d(k, c.ks), c.strides, c.pad)));
      } finally {
        setWasmConvEveryShape(false);
      }
    });

  test.each(CONVS.map((c) => [JSON.stringify(c.xs), JSON.stringify(c.ks), JSON.stringify(c.strides), c.pad, c] as const))(
    "conv2d filter gradient x %s filter %s strides %s %s", async (_x, _k, _s, _p, c) => {
      const info = convInfo(c);
      const x = randomArray(numel(c.xs), 7), dy = randomArray(numel(info.outShape), 8);
      await expectSplitByBatch(c, () => tf.tidy(() => conv2dFilterGradSimd(tf.tensor4d(x, c.xs), tf.tensor(dy, info.outShape),
        [c.ks[0], c.ks[1]], c.strides, info.padInfo.top, info.padInfo.left)!));
    });

  test("kernels-shared.wasm passes the safety check", () => {
    const r = spawnSync(process.execPath, [BUILD_SCRIPT, "--check-shared", KERNELS_SHARED_WASM], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test.skipIf(!haveClang)("kernels-shared.wasm is built from matmul.c, conv2d.c and kernels.c", () => {
    expectRebuildMatches("--out-shared", KERNELS_SHARED_WASM);
  });

  test("the first large product waits for the worker: which products split never depends on timing", () => {
    // A fresh process (the worker starts with its first large product): the same K-split product
    // right away and again once the worker has surely started must be equal to the bit. Were the
    // first run single-threaded while the worker starts, its sum would run in another order.
    const script = `
      import * as tf from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve("@tensorflow/tfjs-core")).href)};
      import { initBackend } from ${JSON.stringify(pathToFileURL(join(vlmcRoot(), "dist", "runtime", "backend.js")).href)};
      import { wasmThreadedRuns } from ${JSON.stringify(pathToFileURL(join(vlmcRoot(), "dist", "runtime", "wasm-simd", "threads.js")).href)};
      await initBackend("wasm");
      const k = 4096, m = 48, n = 40;
      const a = tf.tensor2d(Array.from({ length: k * m }, (_, i) => Math.sin(i * 0.37)), [k, m]);
      const b = tf.tensor2d(Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.11)), [k, n]);
      const first = tf.matMul(a, b, true, false).dataSync();
      await new Promise((r) => setTimeout(r, 300));
      const second = tf.matMul(a, b, true, false).dataSync();
      const same = first.every((v, i) => Object.is(v, second[i]));
      console.log(same, wasmThreadedRuns());`;
    const dir = mkdtempSync(join(tmpdir(), "vlmc-threads-"));
    try {
      writeFileSync(join(dir, "order.mjs"), script);
      const r = spawnSync(process.execPath, [join(dir, "order.mjs")], { encoding: "utf8", timeout: 30000, env: { ...process.env, VLMC_WASM_THREADS: "1" } });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("true 2");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a process with a waiting worker exits by itself", () => {
    const script = `
      import { Worker } from "node:worker_threads";
      import { readFileSync } from "node:fs";
      const module = new WebAssembly.Module(readFileSync(${JSON.stringify(KERNELS_SHARED_WASM)}));
      const memory = new WebAssembly.Memory({ initial: 2, maximum: 16384, shared: true });
      const control = new SharedArrayBuffer(${CONTROL_BYTES}), ctl = new Int32Array(control);
      const w = new Worker(${JSON.stringify(GEMM_WORKER)}, { workerData: { module, memory, control }, execArgv: [] });
      w.unref();
      while (Atomics.load(ctl, 2) === 0) Atomics.wait(ctl, 2, 0, 100);
      const f = new Float32Array(memory.buffer);
      f.set([1, 2, 3, 4], 16); f.set([5, 6, 7, 8], 20);
      [0, 64, 80, 96, 128, 1, 1, 1, 2, 2, 2, 0, 0].forEach((v, i) => (ctl[4 + i] = v)); // kernel 0: batch_matmul
      Atomics.store(ctl, 0, 1); Atomics.notify(ctl, 0);
      while (Atomics.load(ctl, 1) !== 1) Atomics.wait(ctl, 1, 0, 100);
      console.log(ctl[3], Array.from(f.subarray(24, 28)).join(","));`;
    const dir = mkdtempSync(join(tmpdir(), "vlmc-threads-"));
    try {
      writeFileSync(join(dir, "exit.mjs"), script);
      const r = spawnSync(process.execPath, [join(dir, "exit.mjs")], { encoding: "utf8", timeout: 20000 });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe("1 19,22,43,50");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
