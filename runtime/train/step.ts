// One optimisation step — forward, loss, gradients (tf.variableGrads), optional clipping, the
// optimizer's update — shared by `vlmc train` and the benchmarks. After two recorded eager steps it
// runs compiled (runtime/step-graph/: one TensorFlow graph on native TensorFlow, a replayed kernel
// sequence on wasm); where it cannot be, op by op.
import * as tf from "@tensorflow/tfjs-core";
import { tracedFunction } from "../step-graph/index.js";
import { clipByGlobalNorm } from "./clip.js";
import { scalarTensors, type Optimizer } from "./optimizers.js";

export interface TrainStepOptions {
  /** Trainable parameters by the names the optimizer knows them by. */
  params: ReadonlyMap<string, tf.Variable>;
  /** The loss of one batch. */
  loss: (inputs: Readonly<Record<string, tf.Tensor>>) => tf.Scalar;
  optimizer: Optimizer;
  /** Clip gradients to this global norm (0 or absent: no clipping). */
  clip?: number;
  /** Allow the compiled form (default: yes; each backend's switch can turn it off). */
  graph?: boolean;
  /** Hears one line when it is settled how steps run (compiled, or op by op and why). */
  onMode?: (line: string) => void;
}

export interface TrainStep {
  /** One step on `inputs` at learning rate `lr`; the caller owns the returned loss. */
  run(inputs: Readonly<Record<string, tf.Tensor>>, lr: number): tf.Scalar;
  /** "compiled" once a recording serves the steps (runtime/step-graph/), else "eager" (or "tracing" before it is settled). */
  readonly mode: "eager" | "tracing" | "compiled";
  dispose(): void;
}

export function createTrainStep(options: TrainStepOptions): TrainStep {
  const { params, loss, optimizer, clip } = options;
  const variables = [...params.values()];
  const nameOf = new Map([...params].map(([name, v]) => [v.name, name]));
  const gradients = (inputs: Readonly<Record<string, tf.Tensor>>) => {
    const { value, grads } = tf.variableGrads(() => loss(inputs), variables);
    let named = new Map(Object.entries(grads).map(([varName, g]) => [nameOf.get(varName)!, g]));
    if (clip !== undefined && clip > 0) named = clipByGlobalNorm(named, clip).grads;
    return { value, named };
  };
  const compiled = (options.graph ?? true)
    ? tracedFunction(
        (inputs, scalars) => {
          const { value, named } = gradients(inputs);
          optimizer.update(named, scalars);
          return { loss: value };
        },
        { what: "training step", ...(options.onMode ? { onMode: options.onMode } : {}) },
      )
    : undefined;
  return {
    run(inputs, lr) {
      if (!compiled) {
        return tf.tidy(() => {
          const { value, named } = gradients(inputs);
          optimizer.apply(named, lr);
          return value;
        });
      }
      // The per-step numbers go in as tensors, so that one compiled form serves every step.
      const scalars = scalarTensors(optimizer.stepScalars(lr));
      try {
        const value = compiled.run(inputs, scalars)["loss"] as tf.Scalar;
        optimizer.advance();
        return value;
      } finally {
        for (const s of Object.values(scalars)) s.dispose();
      }
    },
    get mode() {
      return compiled ? compiled.state : "eager";
    },
    dispose() {
      compiled?.dispose();
    },
  };
}
