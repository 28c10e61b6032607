// Elementwise arithmetic with numpy broadcasting, and constants.
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "@tensorflow/tfjs-core";

export const add = (a: Tensor, b: Tensor): Tensor => tf.add(a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => tf.sub(a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => tf.mul(a, b);
export const div = (a: Tensor, b: Tensor): Tensor => tf.div(a, b);
export const neg = (x: Tensor): Tensor => tf.neg(x);
export const exp = (x: Tensor): Tensor => tf.exp(x);
export const constant = (value: number): Tensor => tf.scalar(value, "float32");
