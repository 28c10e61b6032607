// SIMD WebAssembly kernels that run on tfjs-backend-wasm's own memory (see index.ts).
//
// The module imports tfjs's Memory and every pointer argument is a byte offset into it. It must
// never write anywhere else: tfjs's data starts at address 0, where a C stack or data segments
// would go. So: no libc, no static or global data, no arrays on the stack (clang would place them
// in linear memory behind a __stack_pointer global). scripts/build-wasm-kernels.mjs checks the
// binary has no globals and no data segments.
#include <wasm_simd128.h>
#include "tile.h"
#include "im2col.h"

#define EXPORT(name) __attribute__((export_name(name)))

// ---------------------------------------------------------------------------------------------
// Conv2D filter gradient (NHWC x, NHWC dy, HWIO dW, no dilation):
//   dW[a, b, c, o] = sum over n, i, j of xpad[n, i*sh + a, j*sw + b, c] * dy[n, i, j, o]
// a GEMM dW[K, CO] = A^T · dy with K = kh*kw*ci and A = im2col(x) [M = n*ho*wo, K].
//
// M is large (10^4–10^5) and K×CO small (a few hundred × 64), so dW lives in a scratch block of
// CO-contiguous rows and the loop runs over blocks of MB output pixels: each block's im2col rows
// are packed (zeros for the padding, K rounded up to a multiple of R) into a panel, then every
// R×8 tile of dW accumulates the block's rank-MB update in registers (the outer products of R
// panel values, broadcast, with 8 dy values). The panel and the block's dy rows stay in cache
// across all tiles; the accumulators go to memory once per block, not per pixel. Each block's
// sums start from zero and are then added to dW: a two-level sum, whose rounding error grows with
// MB + M/MB rather than with M.
// ---------------------------------------------------------------------------------------------

#define R 4    // dW rows per register tile
#define MB 64  // output pixels per block

// Bytes of scratch conv2d_filter_grad needs: the panel (MB × Kp) and dW rounded up (Kp × CO).
EXPORT("conv2d_filter_grad_scratch_bytes")
int conv2d_filter_grad_scratch_bytes(int kh, int kw, int ci, int co) {
  int kp = round_up(kh * kw * ci, R);
  return (MB * kp + kp * co) * 4;
}

static inline void add_to(float *acc, v128_t v) { wasm_v128_store(acc, wasm_f32x4_add(wasm_v128_load(acc), v)); }

// acc[R × 8] += panel[0..m, R] ⊗ dy[0..m, 8]; panel rows kp apart, dy rows co apart.
static inline void tile_r8(float *acc, int co, const float *p, int kp, const float *d, int m) {
  tile_4x8_t s = tile_4x8_sum(p, kp, d, co, m);
  add_to(acc, s.r0a); add_to(acc + 4, s.r0b);
  add_to(acc + co, s.r1a); add_to(acc + co + 4, s.r1b);
  add_to(acc + 2 * co, s.r2a); add_to(acc + 2 * co + 4, s.r2b);
  add_to(acc + 3 * co, s.r3a); add_to(acc + 3 * co + 4, s.r3b);
}

// The same for a 4-wide column tile.
static inline void tile_r4(float *acc, int co, const float *p, int kp, const float *d, int m) {
  tile_4x4_t s = tile_4x4_sum(p, kp, d, co, m);
  add_to(acc, s.r0); add_to(acc + co, s.r1);
  add_to(acc + 2 * co, s.r2); add_to(acc + 3 * co, s.r3);
}

// The same for one column (the last co % 4 columns).
static inline void tile_r1(float *acc, int co, const float *p, int kp, const float *d, int m) {
  v128_t c = wasm_f32x4_splat(0.0f);
  for (int t = 0; t < m; t++) {
    c = wasm_f32x4_add(c, wasm_f32x4_mul(wasm_v128_load(p), wasm_v128_load32_splat(d)));
    p += kp;
    d += co;
  }
  acc[0] += wasm_f32x4_extract_lane(c, 0);
  acc[co] += wasm_f32x4_extract_lane(c, 1);
  acc[2 * co] += wasm_f32x4_extract_lane(c, 2);
  acc[3 * co] += wasm_f32x4_extract_lane(c, 3);
}

// x [n, h, w, ci], dy [n, ho, wo, co] → dw [kh, kw, ci, co]; scratch: conv2d_filter_grad_scratch_bytes.
EXPORT("conv2d_filter_grad")
void conv2d_filter_grad(const float *x, const float *dy, float *dw, float *scratch, int n, int h, int w,
                        int ci, int ho, int wo, int co, int kh, int kw, int sh, int sw, int pt, int pl) {
  int k = kh * kw * ci, kp = round_up(k, R);
  float *panel = scratch;
  float *acc = scratch + MB * kp;
  zero_f32(acc, kp * co);
  int total = n * ho * wo;
  int b = 0, i = 0, j = 0; // the block's first output pixel
  for (int m0 = 0; m0 < total; m0 += MB) {
    int mb = (int)(total - m0 < MB ? total - m0 : MB);
    for (int t = 0; t < mb; t++) {
      pack_row(panel + t * kp, x, b, i, j, h, w, ci, kh, kw, sh, sw, pt, pl, k, kp);
      if (++j == wo) { j = 0; if (++i == ho) { i = 0; b++; } }
    }
    const float *d = dy + m0 * co;
    for (int r = 0; r < kp; r += R) {
      float *arow = acc + r * co;
      int o = 0;
      for (; o + 8 <= co; o += 8) tile_r8(arow + o, co, panel + r, kp, d + o, mb);
      for (; o + 4 <= co; o += 4) tile_r4(arow + o, co, panel + r, kp, d + o, mb);
      for (; o < co; o++) tile_r1(arow + o, co, panel + r, kp, d + o, mb);
    }
  }
  copy_f32(dw, acc, k * co);
}

// ---------------------------------------------------------------------------------------------
// MaxPool gradient (NHWC): dx = 0, then each output's dy goes to the FIRST maximum of its window
// (positions in the padding skipped; a window wholly in the padding passes nothing), exactly as
// maxPoolGradLoop in runtime/ops/wasm-gradients.ts, bit for bit. Four channels at a time: the
// window's running maximum and the index of its first position holding it, then dy added where
// the index matches and +0 elsewhere (dx is never -0, so adding +0 changes no bit), window by
// window in the loop's order so overlapping windows sum in the same order. When the windows tile
// x exactly (CLIP's 2×2 stride-2 pools) every dx element belongs to one window: its value,
// 0 + (dy or +0), is stored in the same pass, with no zero-fill and no read of dx.
// ---------------------------------------------------------------------------------------------

EXPORT("max_pool_grad")
void max_pool_grad(const float *x, const float *dy, float *dx, int n, int h, int w, int c, int ho, int wo,
                   int kh, int kw, int sh, int sw, int pt, int pl) {
  int tiles = kh == sh && kw == sw && pt == 0 && pl == 0 && ho * kh == h && wo * kw == w;
  if (!tiles) zero_f32(dx, n * h * w * c);
  v128_t zero = wasm_f32x4_splat(0.0f);
  for (int b = 0; b < n; b++)
    for (int i = 0; i < ho; i++) {
      int y0 = max_i(0, i * sh - pt), y1 = min_i(h, i * sh - pt + kh);
      for (int j = 0; j < wo; j++) {
        int x0 = max_i(0, j * sw - pl), x1 = min_i(w, j * sw - pl + kw);
        if (y0 >= y1 || x0 >= x1) continue;
        const float *g = dy + ((b * ho + i) * wo + j) * c;
        const float *xw = x + ((b * h + y0) * w + x0) * c;
        float *dw = dx + ((b * h + y0) * w + x0) * c;
        int ch = 0;
        for (; ch + 4 <= c; ch += 4) {
          v128_t best = wasm_v128_load(xw + ch);
          v128_t at = wasm_i32x4_splat(0);
          int pos = 0;
          for (int y = y0; y < y1; y++)
            for (int xx = x0; xx < x1; xx++, pos++) {
              if (pos == 0) continue;
              v128_t v = wasm_v128_load(xw + ((y - y0) * w + (xx - x0)) * c + ch);
              v128_t gt = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, gt);
              at = wasm_v128_bitselect(wasm_i32x4_splat(pos), at, gt);
            }
          v128_t gv = wasm_v128_load(g + ch);
          pos = 0;
          for (int y = y0; y < y1; y++)
            for (int xx = x0; xx < x1; xx++, pos++) {
              float *o = dw + ((y - y0) * w + (xx - x0)) * c + ch;
              v128_t add = wasm_v128_and(gv, wasm_i32x4_eq(at, wasm_i32x4_splat(pos)));
              wasm_v128_store(o, wasm_f32x4_add(tiles ? zero : wasm_v128_load(o), add));
            }
        }
        for (; ch < c; ch++) {
          float best = xw[ch];
          int at = ch;
          for (int y = y0; y < y1; y++)
            for (int xx = x0; xx < x1; xx++) {
              int off = ((y - y0) * w + (xx - x0)) * c + ch;
              if (tiles) dw[off] = 0.0f;
              if (xw[off] > best) { best = xw[off]; at = off; }
            }
          dw[at] += g[ch];
        }
      }
    }
}
