// What the hand-written tfjs models share: a parameter set with the initialisers a tfjs user
// reaches for (glorot-uniform kernels, zero biases, N(0, 0.02) tokens and positions, unit
// layer-norm scales: the same kinds the IR gives these models), and the interface the harness
// times them through.
//
// Parameters are named with the IR's names only so that the shared optimizer applies exactly the
// same update to both sides (AdamW decays parameters whose name ends in "kernel"): the comparison
// is about the model code, so everything around it is held equal.
import * as tf from "@tensorflow/tfjs-core";

export interface HandwrittenModel {
  params: Map<string, tf.Variable>;
  paramCount: number;
  /** The mean training loss of one batch (the same inputs the generated model reads). */
  loss(inputs: Record<string, tf.Tensor>): tf.Scalar;
  /** The logits, for inference timing. */
  predict(inputs: Record<string, tf.Tensor>): tf.Tensor;
  dispose(): void;
}

/** Creates named variables; each draw gets its own seed so the values do not depend on call order. */
export class ParamSet {
  readonly params = new Map<string, tf.Variable>();
  private seed: number;

  constructor(seed: number) {
    this.seed = seed * 1000 + 1;
  }

  glorot(name: string, shape: number[], fanIn: number, fanOut: number): tf.Variable {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return this.add(name, tf.randomUniform(shape, -limit, limit, "float32", this.seed++));
  }

  normal(name: string, shape: number[], std: number): tf.Variable {
    return this.add(name, tf.randomNormal(shape, 0, std, "float32", this.seed++));
  }

  zeros(name: string, shape: number[]): tf.Variable {
    return this.add(name, tf.zeros(shape));
  }

  ones(name: string, shape: number[]): tf.Variable {
    return this.add(name, tf.ones(shape));
  }

  get count(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }

  private add(name: string, initial: tf.Tensor): tf.Variable {
    const variable = tf.variable(initial, true);
    initial.dispose(); // the variable keeps its own copy
    this.params.set(name, variable);
    return variable;
  }
}

/** Mean softmax cross-entropy of int labels under logits [B, C]. */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const classes = logits.shape[logits.rank - 1]!;
  const picked = tf.sum(tf.mul(tf.logSoftmax(logits, -1), tf.oneHot(tf.cast(labels, "int32"), classes)), -1);
  return tf.neg(tf.mean(picked)) as tf.Scalar;
}
