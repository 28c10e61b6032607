// Batched float32 GEMM on tfjs-backend-wasm's memory (see kernels.c for the rules: pointer
// arguments only, no libc, no static data, no stack arrays; scratch comes from the caller).
//
//   C[b] = op(A[b]) · op(B[b]),  op(X) = X or Xᵀ,  C[b] [M, N] row-major
//
// tfjs-backend-wasm's BatchMatMul reaches XNNPACK only for batch 1 without transpose flags (and
// then at 25–39 GFLOP/s on our shapes); everything else is a scalar loop at 1–2 GFLOP/s. Here the
// transposes are absorbed by packing, which reads either operand through its strides, and a batch
// of products is one call (attention's hundreds of tiny products pay no per-product JS cost).
//
// Blocking (GotoBLAS order): for each NC-column block of B and each KC-deep slice, the slice of B
// is packed into NR-wide panels (k-major, NR floats per k, zero-padded columns); for each
// MC-row block of A the block is packed into MR-high panels (MR floats per k, zero-padded rows);
// then every MR×NR tile of C is computed in registers over the KC slice from one A panel
// (~4 KB, streamed) and one B panel (~8 KB, stays in L1 across the A panels of the block).
// The first K slice stores into C, later ones add: tiles need no zero-fill of C. Tiles that
// overhang C (M % MR, N % NR) go through a 32-float scratch tile and only their valid part is
// written. Without FMA in wasm SIMD a 4×8 tile is 8 multiplies and 8 adds per k for 6 loads,
// about the machine's mul+add peak (kernels.c's filter-gradient GEMM, same tile, 50–58 GFLOP/s).
#include <wasm_simd128.h>
#include "tile.h"

#define EXPORT(name) __attribute__((export_name(name)))

#define MR 4
#define NR 8
#define KC 256
#define MC 64
#define NC 512

static inline int min_i(int a, int b) { return a < b ? a : b; }
static inline int round_up(int v, int m) { return (v + m - 1) / m * m; }

// Scratch floats: the packed A block, the packed B slice and the edge tile.
EXPORT("matmul_scratch_bytes")
int matmul_scratch_bytes(int m, int n, int k) {
  int mc = min_i(MC, round_up(m, MR)), nc = min_i(NC, round_up(n, NR)), kc = min_i(KC, k);
  return (mc * kc + kc * nc + MR * NR) * 4;
}

// dst[t * ds + r] = src[r * rs + t] for r < 4 (0 for r >= rows), t < kc: four strided rows read
// four at a time and transposed in registers (A row-major, or B transposed).
static void pack_rows4(float *dst, int ds, const float *src, int rs, int rows, int kc) {
  v128_t z = wasm_f32x4_splat(0.0f);
  const float *s0 = src, *s1 = src + rs, *s2 = src + 2 * rs, *s3 = src + 3 * rs;
  int t = 0;
  for (; t + 4 <= kc; t += 4) {
    v128_t r0 = wasm_v128_load(s0 + t);
    v128_t r1 = rows > 1 ? wasm_v128_load(s1 + t) : z;
    v128_t r2 = rows > 2 ? wasm_v128_load(s2 + t) : z;
    v128_t r3 = rows > 3 ? wasm_v128_load(s3 + t) : z;
    v128_t a = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), b = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5);
    v128_t c = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7), d = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
    wasm_v128_store(dst + t * ds, wasm_i32x4_shuffle(a, b, 0, 1, 4, 5));
    wasm_v128_store(dst + (t + 1) * ds, wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
    wasm_v128_store(dst + (t + 2) * ds, wasm_i32x4_shuffle(c, d, 0, 1, 4, 5));
    wasm_v128_store(dst + (t + 3) * ds, wasm_i32x4_shuffle(c, d, 2, 3, 6, 7));
  }
  for (; t < kc; t++)
    for (int r = 0; r < 4; r++) dst[t * ds + r] = r < rows ? src[r * rs + t] : 0.0f;
}

// dst[t * ds + c] = src[t * ks + c] for c < 4 (0 for c >= cols), t < kc: four contiguous values
// per k (A transposed, or B row-major).
static void pack_cols4(float *dst, int ds, const float *src, int ks, int cols, int kc) {
  if (cols == 4) {
    for (int t = 0; t < kc; t++) wasm_v128_store(dst + t * ds, wasm_v128_load(src + t * ks));
    return;
  }
  for (int t = 0; t < kc; t++)
    for (int c = 0; c < 4; c++) dst[t * ds + c] = c < cols ? src[t * ks + c] : 0.0f;
}

// One 4×8 tile over kc: ap [kc][4], bp [kc][8] → c (row stride ldc); add: C += tile, else C = tile.
static inline void tile_4x8(const float *ap, const float *bp, int kc, float *c, int ldc, int add) {
  tile_4x8_t s = tile_4x8_sum(ap, 4, bp, 8, kc);
  if (add) {
    s.r0a = wasm_f32x4_add(s.r0a, wasm_v128_load(c)); s.r0b = wasm_f32x4_add(s.r0b, wasm_v128_load(c + 4));
    s.r1a = wasm_f32x4_add(s.r1a, wasm_v128_load(c + ldc)); s.r1b = wasm_f32x4_add(s.r1b, wasm_v128_load(c + ldc + 4));
    s.r2a = wasm_f32x4_add(s.r2a, wasm_v128_load(c + 2 * ldc)); s.r2b = wasm_f32x4_add(s.r2b, wasm_v128_load(c + 2 * ldc + 4));
    s.r3a = wasm_f32x4_add(s.r3a, wasm_v128_load(c + 3 * ldc)); s.r3b = wasm_f32x4_add(s.r3b, wasm_v128_load(c + 3 * ldc + 4));
  }
  wasm_v128_store(c, s.r0a); wasm_v128_store(c + 4, s.r0b);
  wasm_v128_store(c + ldc, s.r1a); wasm_v128_store(c + ldc + 4, s.r1b);
  wasm_v128_store(c + 2 * ldc, s.r2a); wasm_v128_store(c + 2 * ldc + 4, s.r2b);
  wasm_v128_store(c + 3 * ldc, s.r3a); wasm_v128_store(c + 3 * ldc + 4, s.r3b);
}

// The same for the last columns of C when at most 4 remain: the left half of a B panel (rows
// still NR apart). Attention's 17-wide products would otherwise spend 7 of 24 columns on zeros.
static inline void tile_4x4(const float *ap, const float *bp, int kc, float *c, int ldc, int add) {
  tile_4x4_t s = tile_4x4_sum(ap, 4, bp, 8, kc);
  if (add) {
    s.r0 = wasm_f32x4_add(s.r0, wasm_v128_load(c)); s.r1 = wasm_f32x4_add(s.r1, wasm_v128_load(c + ldc));
    s.r2 = wasm_f32x4_add(s.r2, wasm_v128_load(c + 2 * ldc)); s.r3 = wasm_f32x4_add(s.r3, wasm_v128_load(c + 3 * ldc));
  }
  wasm_v128_store(c, s.r0); wasm_v128_store(c + ldc, s.r1);
  wasm_v128_store(c + 2 * ldc, s.r2); wasm_v128_store(c + 3 * ldc, s.r3);
}

// One product C [m, n] (row stride n) = op(A) · op(B), element (i, k) of op(A) at
// a[i * ars + k * acs] and (k, j) of op(B) at b[k * brs + j * bcs]; one of each pair of strides is 1.
static void gemm(const float *a, int ars, int acs, const float *b, int brs, int bcs, float *c,
                 int m, int n, int k, float *scratch) {
  float *bpack = scratch;
  int kcmax = min_i(KC, k);
  float *apack = bpack + kcmax * min_i(NC, round_up(n, NR));
  float *edge = apack + min_i(MC, round_up(m, MR)) * kcmax;
  for (int jc = 0; jc < n; jc += NC) {
    int nc = min_i(NC, n - jc);
    for (int pc = 0; pc < k; pc += KC) {
      int kc = min_i(KC, k - pc), add = pc > 0;
      // B slice [pc, pc + kc) × [jc, jc + nc) → NR-wide panels of kc × NR.
      for (int jr = 0; jr < nc; jr += NR) {
        float *dst = bpack + jr * kc;
        const float *src = b + pc * brs + (jc + jr) * bcs;
        int cols = min_i(NR, nc - jr);
        for (int h = 0; h < NR; h += 4) {
          int valid = cols - h < 0 ? 0 : min_i(4, cols - h);
          if (valid == 0) {
            for (int t = 0; t < kc; t++) wasm_v128_store(dst + t * NR + h, wasm_f32x4_splat(0.0f));
          } else if (bcs == 1) {
            pack_cols4(dst + h, NR, src + h, brs, valid, kc);
          } else {
            pack_rows4(dst + h, NR, src + h * bcs, bcs, valid, kc);
          }
        }
      }
      for (int ic = 0; ic < m; ic += MC) {
        int mc = min_i(MC, m - ic);
        // A block [ic, ic + mc) × [pc, pc + kc) → MR-high panels of kc × MR.
        for (int ir = 0; ir < mc; ir += MR) {
          const float *src = a + (ic + ir) * ars + pc * acs;
          int rows = min_i(MR, mc - ir);
          if (acs == 1) pack_rows4(apack + ir * kc, MR, src, ars, rows, kc);
          else pack_cols4(apack + ir * kc, MR, src, acs, rows, kc);
        }
        for (int jr = 0; jr < nc; jr += NR) {
          int cols = min_i(NR, nc - jr);
          for (int ir = 0; ir < mc; ir += MR) {
            int rows = min_i(MR, mc - ir);
            float *ct = c + (ic + ir) * n + jc + jr;
            if (rows == MR && cols == NR) {
              tile_4x8(apack + ir * kc, bpack + jr * kc, kc, ct, n, add);
              continue;
            }
            if (cols <= 4) tile_4x4(apack + ir * kc, bpack + jr * kc, kc, edge, NR, 0);
            else tile_4x8(apack + ir * kc, bpack + jr * kc, kc, edge, NR, 0);
            for (int r = 0; r < rows; r++) {
              float *dst = ct + r * n;
              const float *src = edge + r * NR;
              int q = 0;
              for (; q + 4 <= cols; q += 4)
                wasm_v128_store(dst + q, add ? wasm_f32x4_add(wasm_v128_load(dst + q), wasm_v128_load(src + q)) : wasm_v128_load(src + q));
              for (; q < cols; q++) dst[q] = add ? dst[q] + src[q] : src[q];
            }
          }
        }
      }
    }
  }
}

// c [batch, m, n] = op(a) · op(b) for each batch index; a holds batch_a (1 or batch) matrices of
// [m, k] ([k, m] when trans_a), b batch_b (1 or batch) of [k, n] ([n, k] when trans_b): a batch-1
// operand is used for every product. scratch: matmul_scratch_bytes(m, n, k).
EXPORT("batch_matmul")
void batch_matmul(const float *a, const float *b, float *c, float *scratch, int batch, int batch_a, int batch_b,
                  int m, int n, int k, int trans_a, int trans_b) {
  int ars = trans_a ? 1 : k, acs = trans_a ? m : 1;
  int brs = trans_b ? 1 : n, bcs = trans_b ? k : 1;
  for (int p = 0; p < batch; p++) {
    const float *ap = a + (batch_a == 1 ? 0 : p * m * k);
    const float *bp = b + (batch_b == 1 ? 0 : p * k * n);
    gemm(ap, ars, acs, bp, brs, bcs, c + p * m * n, m, n, k, scratch);
  }
}
