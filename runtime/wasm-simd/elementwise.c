// Elementwise SIMD kernels on tfjs-backend-wasm's memory (see kernels.c for the rules: pointer
// arguments only, no libc, no static data, no stack arrays).
//
// - adam_update: one parameter's Adam/AdamW step in one pass. The tfjs form is ~13 kernels per
//   parameter (each a pass over the tensor plus tfjs's per-kernel bookkeeping), ~1,000 a ViT step.
//   The arithmetic is the same float32 operations in the same order (no fused multiply-add in
//   wasm SIMD), so the result is bit-identical to the tfjs form (test/ops-wasm-simd.test.ts).
// - gelu / gelu_grad: exact GELU, x · 0.5 · (1 + erf(x / √2)), and its derivative
//   Φ(x) + x · φ(x), with tfjs's own erf (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7, the formula
//   of tfjs's Erf kernels) and a vectorised exp. tfjs runs ~5 kernels forward and ~12 backward
//   with a scalar exp and erf; here one pass each.
// - relu_grad: dy · step(x) in one pass, step(x) = 1 for x > 0, NaN for NaN, else 0 — tfjs's
//   Step, Cast and Multiply (three passes) with the same float32 products, so bit-identical.
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))

// p' = start − (m' / (sqrt(v') / c2 + eps)) · step, m' = m·b1 + g·(1 − b1), v' = v·b2 + g²·(1 − b2),
// start = p · keep (keep = 1 − lr·decay for AdamW's decoupled decay, else 1: p·1 = p exactly).
// Outputs may not alias inputs. The scalars arrive as float32, as tfjs's scalar tensors hold them.
EXPORT("adam_update")
void adam_update(const float *p, const float *g, const float *m, const float *v,
                 float *p_out, float *m_out, float *v_out, int n,
                 float b1, float one_minus_b1, float b2, float one_minus_b2,
                 float c2, float eps, float step, float keep, int decay) {
  v128_t vb1 = wasm_f32x4_splat(b1), v1b1 = wasm_f32x4_splat(one_minus_b1);
  v128_t vb2 = wasm_f32x4_splat(b2), v1b2 = wasm_f32x4_splat(one_minus_b2);
  v128_t vc2 = wasm_f32x4_splat(c2), veps = wasm_f32x4_splat(eps);
  v128_t vstep = wasm_f32x4_splat(step), vkeep = wasm_f32x4_splat(keep);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t gi = wasm_v128_load(g + i);
    v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), vb1), wasm_f32x4_mul(gi, v1b1));
    v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), vb2), wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), v1b2));
    v128_t start = wasm_v128_load(p + i);
    if (decay) start = wasm_f32x4_mul(start, vkeep);
    v128_t denom = wasm_f32x4_add(wasm_f32x4_div(wasm_f32x4_sqrt(vi), vc2), veps);
    wasm_v128_store(p_out + i, wasm_f32x4_sub(start, wasm_f32x4_mul(wasm_f32x4_div(mi, denom), vstep)));
    wasm_v128_store(m_out + i, mi);
    wasm_v128_store(v_out + i, vi);
  }
  for (; i < n; i++) {
    float gi = g[i];
    float mi = m[i] * b1 + gi * one_minus_b1;
    float vi = v[i] * b2 + (gi * gi) * one_minus_b2;
    float start = decay ? p[i] * keep : p[i];
    p_out[i] = start - (mi / (__builtin_sqrtf(vi) / c2 + eps)) * step;
    m_out[i] = mi;
    v_out[i] = vi;
  }
}

// exp(x) for x ≤ 0 (all callers pass −z²): Cephes' expf — x = n·ln2 + r, |r| ≤ ln2/2, a degree-7
// polynomial for e^r, 2^n from the exponent bits. Relative error ~1e-7; inputs below −87 give 0
// (expf underflows there too; a clamped value would leak e^-87 · x into GELU's gradient at huge |x|).
static inline v128_t exp_nonpositive(v128_t x) {
  v128_t representable = wasm_f32x4_ge(x, wasm_f32x4_splat(-87.0f));
  x = wasm_f32x4_max(x, wasm_f32x4_splat(-87.0f));
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t y = wasm_f32x4_splat(1.9875691500e-4f);
  y = wasm_f32x4_add(wasm_f32x4_mul(y, r), wasm_f32x4_splat(1.3981999507e-3f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, r), wasm_f32x4_splat(8.3334519073e-3f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, r), wasm_f32x4_splat(4.1665795894e-2f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, r), wasm_f32x4_splat(1.6666665459e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, r), wasm_f32x4_splat(5.0000001201e-1f));
  y = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(y, r), r), r), wasm_f32x4_splat(1.0f));
  v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_v128_and(wasm_f32x4_mul(y, scale), representable);
}

// erf(z) as tfjs computes it: sign(z) · (1 − t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5)))) · e^(−z²)),
// t = 1 / (1 + p·|z|).
static inline v128_t erf_as(v128_t z) {
  v128_t a = wasm_f32x4_abs(z);
  v128_t t = wasm_f32x4_div(wasm_f32x4_splat(1.0f), wasm_f32x4_add(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(wasm_f32x4_splat(0.3275911f), a)));
  v128_t poly = wasm_f32x4_splat(1.061405429f);
  poly = wasm_f32x4_add(wasm_f32x4_mul(poly, t), wasm_f32x4_splat(-1.453152027f));
  poly = wasm_f32x4_add(wasm_f32x4_mul(poly, t), wasm_f32x4_splat(1.421413741f));
  poly = wasm_f32x4_add(wasm_f32x4_mul(poly, t), wasm_f32x4_splat(-0.284496736f));
  poly = wasm_f32x4_add(wasm_f32x4_mul(poly, t), wasm_f32x4_splat(0.254829592f));
  v128_t e = wasm_f32x4_sub(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(wasm_f32x4_mul(poly, t), exp_nonpositive(wasm_f32x4_neg(wasm_f32x4_mul(a, a)))));
  // copy z's sign onto e (e ≥ 0)
  return wasm_v128_or(e, wasm_v128_and(z, wasm_i32x4_splat((int)0x80000000)));
}

// Loads up to 4 floats (the tail zero-filled) and stores back only the valid lanes: the tensors'
// lengths need not be multiples of 4, and nothing past their end may be touched.
static inline v128_t load_n(const float *p, int n) {
  if (n >= 4) return wasm_v128_load(p);
  v128_t v = wasm_f32x4_splat(0.0f);
  if (n > 0) v = wasm_f32x4_replace_lane(v, 0, p[0]);
  if (n > 1) v = wasm_f32x4_replace_lane(v, 1, p[1]);
  if (n > 2) v = wasm_f32x4_replace_lane(v, 2, p[2]);
  return v;
}
static inline void store_n(float *p, v128_t v, int n) {
  if (n >= 4) { wasm_v128_store(p, v); return; }
  if (n > 0) p[0] = wasm_f32x4_extract_lane(v, 0);
  if (n > 1) p[1] = wasm_f32x4_extract_lane(v, 1);
  if (n > 2) p[2] = wasm_f32x4_extract_lane(v, 2);
}

#define SQRT1_2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

EXPORT("gelu")
void gelu(const float *x, float *y, int n) {
  for (int i = 0; i < n; i += 4) {
    v128_t xi = load_n(x + i, n - i);
    v128_t half_x = wasm_f32x4_mul(xi, wasm_f32x4_splat(0.5f));
    v128_t one_plus = wasm_f32x4_add(erf_as(wasm_f32x4_mul(xi, wasm_f32x4_splat(SQRT1_2))), wasm_f32x4_splat(1.0f));
    store_n(y + i, wasm_f32x4_mul(half_x, one_plus), n - i);
  }
}

// dx = dy · (Φ(x) + x · φ(x)), Φ(x) = 0.5 · (1 + erf(x / √2)), φ(x) = e^(−x²/2) / √(2π).
EXPORT("gelu_grad")
void gelu_grad(const float *x, const float *dy, float *dx, int n) {
  for (int i = 0; i < n; i += 4) {
    v128_t xi = load_n(x + i, n - i);
    v128_t cdf = wasm_f32x4_mul(wasm_f32x4_add(erf_as(wasm_f32x4_mul(xi, wasm_f32x4_splat(SQRT1_2))), wasm_f32x4_splat(1.0f)), wasm_f32x4_splat(0.5f));
    v128_t pdf = wasm_f32x4_mul(exp_nonpositive(wasm_f32x4_mul(wasm_f32x4_mul(xi, xi), wasm_f32x4_splat(-0.5f))), wasm_f32x4_splat(INV_SQRT_2PI));
    store_n(dx + i, wasm_f32x4_mul(load_n(dy + i, n - i), wasm_f32x4_add(cdf, wasm_f32x4_mul(xi, pdf))), n - i);
  }
}

EXPORT("relu_grad")
void relu_grad(const float *x, const float *dy, float *dx, int n) {
  for (int i = 0; i < n; i += 4) {
    v128_t xi = load_n(x + i, n - i);
    v128_t step = wasm_v128_and(wasm_f32x4_gt(xi, wasm_f32x4_splat(0.0f)), wasm_f32x4_splat(1.0f));
    step = wasm_v128_or(step, wasm_v128_and(wasm_f32x4_ne(xi, xi), wasm_f32x4_splat(__builtin_nanf(""))));
    store_n(dx + i, wasm_f32x4_mul(load_n(dy + i, n - i), step), n - i);
  }
}

