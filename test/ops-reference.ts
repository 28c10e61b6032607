// Plain-JS (float64) reference implementations of the primitives, written as directly from the
// definitions as possible, for the ops tests. Tensors are { shape, data } in row-major order.
export interface Arr {
  shape: number[];
  data: Float64Array;
}

export function arr(shape: number[], data: ArrayLike<number>): Arr {
  return { shape, data: Float64Array.from(data) };
}

/** erf to ~1e-15 by its Taylor series (|x| < 3) or the continued fraction tail. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = 0, term = x, n = 0;
    while (Math.abs(term) > 1e-17 * Math.abs(sum) || n < 3) {
      sum += term / (2 * n + 1);
      n++;
      term *= (-x * x) / n;
      if (n > 200) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz), accurate for |x| >= 3.
  let f = ax, c = ax, d = 0;
  for (let k = 1; k < 60; k++) {
    const a = k / 2;
    d = ax + a * d; d = 1 / d;
    c = ax + a / c;
    f *= c * d;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
}

export const geluRef = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const geluTanhRef = (x: number): number =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
export const sigmoidRef = (x: number): number => 1 / (1 + Math.exp(-x));
export const quickGeluRef = (x: number): number => x * sigmoidRef(1.702 * x);

export function map(a: Arr, f: (x: number) => number): Arr {
  return { shape: a.shape, data: a.data.map(f) };
}

/** [M, K] · [K, N]. */
export function matmul2d(a: Float64Array | number[], b: Float64Array | number[], m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * n + j]!;
    out[i * n + j] = s;
  }
  return out;
}

/** Over the last axis. */
export function softmaxRows(data: Float64Array, cols: number): Float64Array {
  const out = new Float64Array(data.length);
  for (let r = 0; r < data.length / cols; r++) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, data[r * cols + c]!);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += (out[r * cols + c] = Math.exp(data[r * cols + c]! - max));
    for (let c = 0; c < cols; c++) out[r * cols + c]! /= sum;
  }
  return out;
}

export function denseRef(x: Arr, kernel: Arr, bias?: Arr): Arr {
  const inDim = x.shape[x.shape.length - 1]!;
  const units = kernel.shape[1]!;
  const rows = x.data.length / inDim;
  const y = matmul2d(x.data, kernel.data, rows, inDim, units);
  if (bias) for (let r = 0; r < rows; r++) for (let u = 0; u < units; u++) y[r * units + u]! += bias.data[u]!;
  return { shape: [...x.shape.slice(0, -1), units], data: y };
}

export function layerNormRef(x: Arr, gamma: Arr, beta: Arr, eps: number): Arr {
  const d = x.shape[x.shape.length - 1]!;
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / d; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x.data[r * d + i]!;
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x.data[r * d + i]! - mean) ** 2;
    v /= d;
    for (let i = 0; i < d; i++) out[r * d + i] = ((x.data[r * d + i]! - mean) / Math.sqrt(v + eps)) * gamma.data[i]! + beta.data[i]!;
  }
  return { shape: x.shape, data: out };
}

export interface AttnRefWeights {
  q: Arr; qb?: Arr; k: Arr; kb?: Arr; v: Arr; vb?: Arr; o: Arr; ob: Arr;
}

/** Multi-head attention by explicit loops over batch, head, query and key. */
export function attentionRef(x: Arr, context: Arr | undefined, keyMask: Arr | undefined, w: AttnRefWeights, heads: number, causal: boolean): Arr {
  const [b, nq, dim] = x.shape as [number, number, number];
  const src = context ?? x;
  const nk = src.shape[1]!;
  const q = denseRef(x, w.q, w.qb).data, k = denseRef(src, w.k, w.kb).data, v = denseRef(src, w.v, w.vb).data;
  const hd = dim / heads;
  const merged = new Float64Array(b * nq * dim);
  for (let bi = 0; bi < b; bi++) for (let h = 0; h < heads; h++) for (let i = 0; i < nq; i++) {
    const scores: number[] = [];
    for (let j = 0; j < nk; j++) {
      let s = 0;
      for (let t = 0; t < hd; t++) s += q[(bi * nq + i) * dim + h * hd + t]! * k[(bi * nk + j) * dim + h * hd + t]!;
      s /= Math.sqrt(hd);
      const masked = (keyMask && keyMask.data[bi * nk + j] === 0) || (causal && j > i + (nk - nq));
      scores.push(masked ? -Infinity : s);
    }
    const finite = scores.some((s) => s !== -Infinity);
    const probs = finite ? softmaxRows(Float64Array.from(scores), nk) : new Float64Array(nk).fill(1 / nk);
    for (let t = 0; t < hd; t++) {
      let s = 0;
      for (let j = 0; j < nk; j++) s += probs[j]! * v[(bi * nk + j) * dim + h * hd + t]!;
      merged[(bi * nq + i) * dim + h * hd + t] = s;
    }
  }
  return denseRef({ shape: [b, nq, dim], data: merged }, w.o, w.ob);
}

/** NHWC × HWIO, stride s, "valid" or "same" (TensorFlow's padding rule: extra padding at the end). */
export function conv2dRef(x: Arr, w: Arr, stride: number, padding: "valid" | "same"): Arr {
  const [n, h, wd, ci] = x.shape as [number, number, number, number];
  const [kh, kw, , co] = w.shape as [number, number, number, number];
  let ho: number, wo: number, pt = 0, pl = 0;
  if (padding === "valid") {
    ho = Math.floor((h - kh) / stride) + 1; wo = Math.floor((wd - kw) / stride) + 1;
  } else {
    ho = Math.ceil(h / stride); wo = Math.ceil(wd / stride);
    pt = Math.floor(Math.max((ho - 1) * stride + kh - h, 0) / 2);
    pl = Math.floor(Math.max((wo - 1) * stride + kw - wd, 0) / 2);
  }
  const out = new Float64Array(n * ho * wo * co);
  for (let b = 0; b < n; b++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) for (let o = 0; o < co; o++) {
    let s = 0;
    for (let a = 0; a < kh; a++) for (let c = 0; c < kw; c++) {
      const y = i * stride + a - pt, xx = j * stride + c - pl;
      if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
      for (let t = 0; t < ci; t++) s += x.data[((b * h + y) * wd + xx) * ci + t]! * w.data[((a * kw + c) * ci + t) * co + o]!;
    }
    out[((b * ho + i) * wo + j) * co + o] = s;
  }
  return { shape: [n, ho, wo, co], data: out };
}

/** Mean negative log-likelihood of `labels` under softmax rows of logits [M, C], weighted. */
export function nllRef(logits: Float64Array, cols: number, labels: ArrayLike<number>, weights?: ArrayLike<number>): number {
  const p = softmaxRows(logits, cols);
  let total = 0, count = 0;
  for (let r = 0; r < labels.length; r++) {
    const wgt = weights ? weights[r]! : 1;
    total += -Math.log(p[r * cols + labels[r]!]!) * wgt;
    count += wgt;
  }
  return total / Math.max(count, weights ? 1 : 0);
}
