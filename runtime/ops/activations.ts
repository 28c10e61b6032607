// Activation functions, with the exact formulas Hugging Face/PyTorch use so weights ported from
// there reproduce their outputs. Small integer powers are written as products: wasm's Pow is slow.
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "@tensorflow/tfjs-core";
import { geluSimd } from "../wasm-simd/elementwise.js";

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export const relu = (x: Tensor): Tensor => tf.relu(x);

/**
 * Exact GELU: x · Φ(x) = 0.5 · x · (1 + erf(x / √2)). (PyTorch "gelu".) On wasm one kernel of ours
 * forward and one backward (runtime/wasm-simd/elementwise.ts), with the same erf formula as tfjs's.
 */
export const gelu = (x: Tensor): Tensor =>
  geluSimd(x) ?? tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT1_2)), 1)));

/** The tanh approximation: 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))). ("gelu_pytorch_tanh".) */
export const geluTanh = (x: Tensor): Tensor =>
  tf.tidy(() => {
    const cube = tf.mul(tf.mul(x, x), x);
    const inner = tf.mul(tf.add(x, tf.mul(cube, 0.044715)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });

/** CLIP's x · sigmoid(1.702 · x). */
export const quickGelu = (x: Tensor): Tensor => tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));

export const silu = (x: Tensor): Tensor => tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
export const tanh = (x: Tensor): Tensor => tf.tanh(x);
export const sigmoid = (x: Tensor): Tensor => tf.sigmoid(x);
/** Over the last axis. */
export const softmax = (x: Tensor): Tensor => tf.softmax(x, -1);
