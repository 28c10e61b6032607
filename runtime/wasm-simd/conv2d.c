// Forward Conv2D on tfjs-backend-wasm's memory (see kernels.c for the rules: pointer arguments
// only, no libc, no static data, no stack arrays; scratch comes from the caller).
//
//   y[n, i, j, o] = sum over a, b, c of xpad[n, i*sh + a, j*sw + b, c] * w[a, b, c, o]
//
// NHWC x, HWIO w, no dilation: an implicit GEMM Y[M = n*ho*wo, CO] = im2col(x)[M, K] · W[K, CO]
// with K = kh*kw*ci, the im2col matrix never built whole. W is packed once per call into
// NR-wide panels (k-major, NR floats per k, zero columns past CO). The output pixels run in blocks
// of MB: each pixel's im2col row is packed (pack_row, zeros for the padding) and every MR rows
// are interleaved into the k-major MR-high panel the tile's broadcasts read. Then every MR×NR
// tile of the block is summed over all of K in registers (tile.h) and stored once: Y needs no
// zero-fill and is never read. The column panel is the outer loop so that one panel of W
// (K × 8 floats, 18 KB at K = 576) stays in L1 while the block's pixel panels stream past it.
#include <wasm_simd128.h>
#include "tile.h"
#include "im2col.h"

#define EXPORT(name) __attribute__((export_name(name)))

#define MR 4   // output pixels per register tile
#define NR 8   // output channels per register tile (a W panel's width)
#define MB 64  // output pixels per packed block

// Scratch floats: W's panels, the block's pixel panels and MR im2col rows.
EXPORT("conv2d_scratch_bytes")
int conv2d_scratch_bytes(int kh, int kw, int ci, int co) {
  int k = kh * kw * ci, kp = round_up(k, MR);
  return (round_up(co, NR) * k + MB * kp + MR * kp) * 4;
}

// dst[t * NR + c] = w[t * co + o + c] for each panel's first column o (0 for columns past co).
static void pack_filter(float *dst, const float *w, int k, int co) {
  for (int o = 0; o < co; o += NR, dst += NR * k) {
    int cols = min_i(NR, co - o);
    for (int t = 0; t < k; t++) {
      copy_f32(dst + t * NR, w + t * co + o, cols);
      zero_f32(dst + t * NR + cols, NR - cols);
    }
  }
}

// dst[t * MR + r] = rows[r * kp + t] for r < 4, t < kp (a multiple of 4): four im2col rows,
// 4×4 blocks transposed in registers (pairs of rows zipped, then their 64-bit halves).
static void interleave4(float *dst, const float *rows, int kp) {
  for (int t = 0; t < kp; t += 4, dst += 16) {
    v128_t r0 = wasm_v128_load(rows + t), r1 = wasm_v128_load(rows + kp + t);
    v128_t r2 = wasm_v128_load(rows + 2 * kp + t), r3 = wasm_v128_load(rows + 3 * kp + t);
    v128_t lo01 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), hi01 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
    v128_t lo23 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), hi23 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
    wasm_v128_store(dst, wasm_i64x2_shuffle(lo01, lo23, 0, 2));
    wasm_v128_store(dst + 4, wasm_i64x2_shuffle(lo01, lo23, 1, 3));
    wasm_v128_store(dst + 8, wasm_i64x2_shuffle(hi01, hi23, 0, 2));
    wasm_v128_store(dst + 12, wasm_i64x2_shuffle(hi01, hi23, 1, 3));
  }
}

// The first n (≤ 4) lanes of v to dst: Y's last columns (CO % 4) without writing past them.
static inline void store_lanes(float *dst, v128_t v, int n) {
  switch (n) {
    case 4: wasm_v128_store(dst, v); break;
    case 3: wasm_v128_store64_lane(dst, v, 0); wasm_v128_store32_lane(dst + 2, v, 2); break;
    case 2: wasm_v128_store64_lane(dst, v, 0); break;
    case 1: wasm_v128_store32_lane(dst, v, 0); break;
  }
}

// One row of a tile: cols (≤ 8) values from the halves a, b.
static inline void store_row(float *dst, v128_t a, v128_t b, int cols) {
  store_lanes(dst, a, min_i(cols, 4));
  if (cols > 4) store_lanes(dst + 4, b, cols - 4);
}

static inline void store_tile(float *c, int ldc, tile_4x8_t s, int rows, int cols) {
  store_row(c, s.r0a, s.r0b, cols);
  if (rows > 1) store_row(c + ldc, s.r1a, s.r1b, cols);
  if (rows > 2) store_row(c + 2 * ldc, s.r2a, s.r2b, cols);
  if (rows > 3) store_row(c + 3 * ldc, s.r3a, s.r3b, cols);
}

// One MR×NR tile of Y at yt (rows co apart) from pixel panel ap and W panel bp over k: rows (≤ 4)
// valid pixels and cols (≤ 8) valid channels stored, nothing past them (the last block's rows,
// CO % 8 columns). At most 4 columns left take the 4-wide tile.
static inline void conv_tile(float *yt, int co, const float *ap, const float *bp, int k, int rows, int cols) {
  v128_t z = wasm_f32x4_splat(0.0f);
  if (cols <= 4) {
    tile_4x4_t s = tile_4x4_sum(ap, MR, bp, NR, k);
    tile_4x8_t t = {s.r0, z, s.r1, z, s.r2, z, s.r3, z};
    store_tile(yt, co, t, rows, cols);
  } else {
    store_tile(yt, co, tile_4x8_sum(ap, MR, bp, NR, k), rows, cols);
  }
}

// x [n, h, wd, ci], w [kh, kw, ci, co] → y [n, ho, wo, co] with strides sh, sw and top/left
// padding pt, pl (bottom/right follow from ho, wo); scratch: conv2d_scratch_bytes.
EXPORT("conv2d")
void conv2d(const float *x, const float *w, float *y, float *scratch, int n, int h, int wd, int ci,
            int ho, int wo, int co, int kh, int kw, int sh, int sw, int pt, int pl) {
  int k = kh * kw * ci, kp = round_up(k, MR);
  float *bpack = scratch;
  float *apack = bpack + round_up(co, NR) * k;
  float *rows = apack + MB * kp;
  pack_filter(bpack, w, k, co);
  int total = n * ho * wo;
  int b = 0, i = 0, j = 0; // the next pixel to pack
  for (int m0 = 0; m0 < total; m0 += MB) {
    int mb = min_i(MB, total - m0);
    for (int p = 0; p < mb; p += MR) {
      for (int r = 0; r < MR; r++) {
        if (p + r == mb) { // past the last pixel: zero rows, never stored
          zero_f32(rows + r * kp, (MR - r) * kp);
          break;
        }
        pack_row(rows + r * kp, x, b, i, j, h, wd, ci, kh, kw, sh, sw, pt, pl, k, kp);
        if (++j == wo) { j = 0; if (++i == ho) { i = 0; b++; } }
      }
      interleave4(apack + p * kp, rows, kp);
    }
    for (int o = 0; o < co; o += NR)
      for (int p = 0; p < mb; p += MR)
        conv_tile(y + (m0 + p) * co + o, co, apack + p * kp, bpack + o * k, k, min_i(MR, mb - p), min_i(NR, co - o));
  }
}
