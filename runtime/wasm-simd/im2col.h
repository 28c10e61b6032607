// Packing helpers both convolution GEMMs share (kernels.c's filter gradient, conv2d.c's forward
// convolution): an output pixel's im2col row copied out of NHWC x, with zeros for the padding.
// Same rules as the kernels: no libc, no globals, no stack arrays.
#ifndef VLMC_IM2COL_H
#define VLMC_IM2COL_H
#include <wasm_simd128.h>

static inline int min_i(int a, int b) { return a < b ? a : b; }
static inline int max_i(int a, int b) { return a > b ? a : b; }
static inline int round_up(int v, int m) { return (v + m - 1) / m * m; }

// Copies n floats (unaligned) with 4-wide moves.
static inline void copy_f32(float *dst, const float *src, int n) {
  int t = 0;
  for (; t + 4 <= n; t += 4) wasm_v128_store(dst + t, wasm_v128_load(src + t));
  for (; t < n; t++) dst[t] = src[t];
}

static inline void zero_f32(float *dst, int n) {
  int t = 0;
  for (; t + 4 <= n; t += 4) wasm_v128_store(dst + t, wasm_f32x4_splat(0.0f));
  for (; t < n; t++) dst[t] = 0.0f;
}

// One panel row: the im2col row of output pixel (b, i, j), k = kh*kw*ci values zero-padded to kp.
// For each filter row a the kw*ci values are one contiguous run of x, clipped at the left and
// right edges.
static void pack_row(float *row, const float *x, int b, int i, int j, int h, int w, int ci,
                     int kh, int kw, int sh, int sw, int pt, int pl, int k, int kp) {
  int run = kw * ci;
  int x0 = j * sw - pl;
  int e0 = max_i(0, -x0), e1 = min_i(kw, w - x0);
  for (int a = 0; a < kh; a++) {
    float *dst = row + a * run;
    int y = i * sh + a - pt;
    if (y < 0 || y >= h || e0 >= e1) {
      zero_f32(dst, run);
      continue;
    }
    zero_f32(dst, e0 * ci);
    copy_f32(dst + e0 * ci, x + ((b * h + y) * w + x0 + e0) * ci, (e1 - e0) * ci);
    zero_f32(dst + e1 * ci, (kw - e1) * ci);
  }
  zero_f32(row + k, kp - k);
}

#endif
