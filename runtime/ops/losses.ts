// Scalar losses. All go through a numerically stable log-softmax (max subtracted before exp).
import * as tf from "@tensorflow/tfjs-core";
import type { Scalar, Tensor } from "@tensorflow/tfjs-core";

/** Negative log-likelihood of `labels` under the rows of `logits` [M, C]: → [M]. */
function rowNll(logits: Tensor, labels: Tensor): Tensor {
  const classes = logits.shape[logits.rank - 1]!;
  const logProbs = tf.logSoftmax(logits, -1);
  const picked = tf.sum(tf.mul(logProbs, tf.oneHot(tf.cast(labels, "int32"), classes)), -1);
  return tf.neg(picked);
}

/** Mean softmax cross-entropy: logits [B, C], int labels [B]. */
export function crossEntropy(logits: Tensor, labels: Tensor): Scalar {
  return tf.tidy(() => tf.mean(rowNll(logits, labels)) as Scalar);
}

/**
 * The symmetric CLIP loss over logits_per_image [B, B]: the mean of the cross-entropy over rows
 * (image → text) and over columns (text → image), the matching pair on the diagonal.
 */
export function contrastiveLoss(logits: Tensor): Scalar {
  return tf.tidy(() => {
    const n = logits.shape[0]!;
    if (logits.shape[1] !== n) {
      throw new Error(`contrastive_loss needs as many texts as images (one caption per image), found logits [${logits.shape.join(", ")}]`);
    }
    const diagonal = tf.range(0, n, 1, "int32");
    const perImage = tf.mean(rowNll(logits, diagonal));
    const perText = tf.mean(rowNll(tf.transpose(logits), diagonal));
    return tf.mul(tf.add(perImage, perText), 0.5) as Scalar;
  });
}

/**
 * Next-token loss: logits [B, T, V], int targets [B, T], float mask [B, T] (1 = counts). The mean
 * over counted positions only (0 when none counts).
 */
export function lmLoss(logits: Tensor, targets: Tensor, mask: Tensor): Scalar {
  return tf.tidy(() => {
    const vocab = logits.shape[logits.rank - 1]!;
    const nll = rowNll(tf.reshape(logits, [-1, vocab]), tf.reshape(targets, [-1]));
    const weights = tf.cast(tf.reshape(mask, [-1]), "float32");
    const counted = tf.maximum(tf.sum(weights), 1);
    return tf.div(tf.sum(tf.mul(nll, weights)), counted) as Scalar;
  });
}
