// The register tiles the GEMMs here share (kernels.c's filter gradient, matmul.c's BatchMatMul,
// conv2d.c's forward convolution):
// a 4-row tile of C accumulated over k steps as outer products — 4 values of A broadcast, times 8
// (or 4) contiguous values of B. The operands' steps are the callers' (a packed panel or strided
// rows). The sums come back by value; always_inline lets clang keep them in registers (a tile
// spilled to the C stack would break the build's no-stack check, so the build catches it).
#ifndef VLMC_TILE_H
#define VLMC_TILE_H
#include <wasm_simd128.h>

typedef struct { v128_t r0a, r0b, r1a, r1b, r2a, r2b, r3a, r3b; } tile_4x8_t;
typedef struct { v128_t r0, r1, r2, r3; } tile_4x4_t;

// Σ over t < k of a[t·a_step + r] · b[t·b_step + 0..7], r = 0..3.
static inline __attribute__((always_inline)) tile_4x8_t tile_4x8_sum(const float *a, int a_step, const float *b, int b_step, int k) {
  v128_t z = wasm_f32x4_splat(0.0f);
  tile_4x8_t s = {z, z, z, z, z, z, z, z};
  for (int t = 0; t < k; t++) {
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    v128_t a0 = wasm_v128_load32_splat(a), a1 = wasm_v128_load32_splat(a + 1);
    v128_t a2 = wasm_v128_load32_splat(a + 2), a3 = wasm_v128_load32_splat(a + 3);
    s.r0a = wasm_f32x4_add(s.r0a, wasm_f32x4_mul(a0, b0)); s.r0b = wasm_f32x4_add(s.r0b, wasm_f32x4_mul(a0, b1));
    s.r1a = wasm_f32x4_add(s.r1a, wasm_f32x4_mul(a1, b0)); s.r1b = wasm_f32x4_add(s.r1b, wasm_f32x4_mul(a1, b1));
    s.r2a = wasm_f32x4_add(s.r2a, wasm_f32x4_mul(a2, b0)); s.r2b = wasm_f32x4_add(s.r2b, wasm_f32x4_mul(a2, b1));
    s.r3a = wasm_f32x4_add(s.r3a, wasm_f32x4_mul(a3, b0)); s.r3b = wasm_f32x4_add(s.r3b, wasm_f32x4_mul(a3, b1));
    a += a_step;
    b += b_step;
  }
  return s;
}

// Σ over t < k of a[t·a_step + r] · b[t·b_step + 0..3], r = 0..3.
static inline __attribute__((always_inline)) tile_4x4_t tile_4x4_sum(const float *a, int a_step, const float *b, int b_step, int k) {
  v128_t z = wasm_f32x4_splat(0.0f);
  tile_4x4_t s = {z, z, z, z};
  for (int t = 0; t < k; t++) {
    v128_t b0 = wasm_v128_load(b);
    s.r0 = wasm_f32x4_add(s.r0, wasm_f32x4_mul(wasm_v128_load32_splat(a), b0));
    s.r1 = wasm_f32x4_add(s.r1, wasm_f32x4_mul(wasm_v128_load32_splat(a + 1), b0));
    s.r2 = wasm_f32x4_add(s.r2, wasm_f32x4_mul(wasm_v128_load32_splat(a + 2), b0));
    s.r3 = wasm_f32x4_add(s.r3, wasm_f32x4_mul(wasm_v128_load32_splat(a + 3), b0));
    a += a_step;
    b += b_step;
  }
  return s;
}

#endif
