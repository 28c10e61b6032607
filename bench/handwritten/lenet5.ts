// LeNet-5 as a tfjs user writes it by hand: the same layers and sizes as specs/convnet.vlm
// (conv 5×5×6 same → relu → 2×2 max-pool → conv 5×5×16 → relu → max-pool → 120 → 84 → classes).
// `sizes` comes from the IR (bench/models.ts): image_size, channels, classes.
import * as tf from "@tensorflow/tfjs-core";
import type { Sizes } from "../models.js";
import { crossEntropy, ParamSet, type HandwrittenModel } from "./common.js";

export function lenet5(sizes: Sizes, seed = 0): HandwrittenModel {
  const { image_size: image, channels, classes } = sizes as { image_size: number; channels: number; classes: number };
  const features = ((image / 2 - 4) / 2) ** 2 * 16; // 5 × 5 × 16 = 400 on 28 × 28
  const p = new ParamSet(seed);
  const c1 = { k: p.glorot("c1.kernel", [5, 5, channels, 6], 25 * channels, 150), b: p.zeros("c1.bias", [6]) };
  const c3 = { k: p.glorot("c3.kernel", [5, 5, 6, 16], 150, 400), b: p.zeros("c3.bias", [16]) };
  const f5 = { k: p.glorot("f5.kernel", [features, 120], features, 120), b: p.zeros("f5.bias", [120]) };
  const f6 = { k: p.glorot("f6.kernel", [120, 84], 120, 84), b: p.zeros("f6.bias", [84]) };
  const f7 = { k: p.glorot("f7.kernel", [84, classes], 84, classes), b: p.zeros("f7.bias", [classes]) };

  const logits = (image: tf.Tensor): tf.Tensor => {
    let x = tf.relu(tf.add(tf.conv2d(image as tf.Tensor4D, c1.k as tf.Tensor4D, 1, "same"), c1.b)) as tf.Tensor4D;
    x = tf.maxPool(x, 2, 2, "valid");
    x = tf.relu(tf.add(tf.conv2d(x, c3.k as tf.Tensor4D, 1, "valid"), c3.b)) as tf.Tensor4D;
    x = tf.maxPool(x, 2, 2, "valid");
    let h: tf.Tensor = tf.reshape(x, [x.shape[0], features]);
    h = tf.relu(tf.add(tf.matMul(h, f5.k), f5.b));
    h = tf.relu(tf.add(tf.matMul(h, f6.k), f6.b));
    return tf.add(tf.matMul(h, f7.k), f7.b);
  };

  return {
    params: p.params,
    paramCount: p.count,
    loss: (inputs) => crossEntropy(logits(inputs["image"]!), inputs["label"]!),
    predict: (inputs) => logits(inputs["image"]!),
    dispose: () => p.dispose(),
  };
}
