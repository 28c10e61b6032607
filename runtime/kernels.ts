// Kernel availability: before training, find out whether the chosen backend has every kernel the
// model's forward and backward passes run, so a gap is one clear message up front instead of a
// failure in the middle of a run.
import * as tf from "@tensorflow/tfjs-core";
import type { Scalar, Tensor } from "@tensorflow/tfjs-core";
import { withGradientsOf } from "./ops/wasm-gradients.js";

export interface KernelCheck {
  /** Forward kernels the backend does not implement. */
  missingForward: string[];
  /** Kernels with no gradient function at all, or kernels a backward pass runs that the backend lacks. */
  missingGradient: string[];
}

function hasKernel(kernelName: string, backend: string): boolean {
  return tf.getKernel(kernelName, backend) !== undefined;
}

/**
 * Checks kernel names against a backend's registry. `kernelNames` are forward kernels; a kernel
 * counts as missing its gradient when tfjs has no gradient function for it. Use
 * `checkModelKernels` to also check the kernels the gradients themselves run.
 */
export function checkKernels(backend: string, kernelNames: string[]): KernelCheck {
  const unique = [...new Set(kernelNames)].sort();
  return {
    missingForward: unique.filter((k) => !hasKernel(k, backend)),
    missingGradient: unique.filter((k) => !NON_DIFFERENTIABLE.has(k) && tf.getGradient(k) === undefined),
  };
}

/** Kernels that only ever see integer or boolean data here (ids, labels, masks): no gradient needed. */
const NON_DIFFERENTIABLE = new Set([
  "ArgMax", "ArgMin", "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd",
  "LogicalOr", "LogicalNot", "OneHot", "Range", "Fill", "ZerosLike", "OnesLike", "Cast", "Identity",
]);

export interface KernelUse {
  /** Kernels the forward pass runs. */
  forward: string[];
  /** Kernels a training step (forward + backward) runs, as they would be chosen for `backend`. */
  training: string[];
  /** Set when the backward pass could not be built: tfjs's message (e.g. a kernel without gradient). */
  gradientError?: string;
}

/**
 * Discovers the kernels `loss` runs, forward and backward, by running it once (use tiny inputs)
 * with tf.profile on the *cpu* backend, which has every kernel, while building gradients as they
 * would be built on `backend` (so wasm's gradient lowerings are what gets recorded). `variables`
 * are what the trainer differentiates; by default every trainable variable.
 */
export async function discoverKernels(loss: () => Scalar, backend: string, variables?: tf.Variable[]): Promise<KernelUse> {
  const previous = tf.getBackend();
  await tf.setBackend("cpu");
  try {
    const forwardProfile = await tf.profile(() => loss() as Tensor);
    tf.dispose(forwardProfile.result);
    const forward = forwardProfile.kernelNames;
    let training: string[] = forward;
    let gradientError: string | undefined;
    try {
      const trainingProfile = await tf.profile(() =>
        withGradientsOf(backend, () => {
          const { value, grads } = tf.variableGrads(loss, variables);
          return [value, ...Object.values(grads)];
        }),
      );
      tf.dispose(trainingProfile.result);
      training = trainingProfile.kernelNames;
    } catch (err) {
      gradientError = err instanceof Error ? err.message : String(err);
    }
    // Profiles also list composite ops with custom gradients ("logSoftmax__op"); they are not kernels.
    const kernelsOnly = (names: string[]) => [...new Set(names)].filter((k) => hasKernel(k, "cpu")).sort();
    return { forward: kernelsOnly(forward), training: kernelsOnly(training), gradientError };
  } finally {
    if (previous && previous !== "cpu") await tf.setBackend(previous);
  }
}

/** Both checks for a model's loss function: forward kernels, then what its backward pass needs. */
export async function checkModelKernels(loss: () => Scalar, backend: string, variables?: tf.Variable[]): Promise<KernelCheck> {
  const use = await discoverKernels(loss, backend, variables);
  const forward = checkKernels(backend, use.forward);
  const backwardOnly = use.training.filter((k) => !use.forward.includes(k) && !hasKernel(k, backend));
  const missingGradient = [...new Set([...forward.missingGradient, ...backwardOnly])].sort();
  if (use.gradientError) {
    const named = /gradient function not found for (\w+)/i.exec(use.gradientError);
    missingGradient.push(named ? named[1]! : use.gradientError);
  }
  return { missingForward: forward.missingForward, missingGradient: [...new Set(missingGradient)].sort() };
}

/** The user-facing message for a failed check, or undefined when nothing is missing. */
export function describeMissingKernels(backend: string, check: KernelCheck): string | undefined {
  const lines: string[] = [];
  if (check.missingForward.length > 0) {
    lines.push(`backend ${backend} lacks the kernel${plural(check.missingForward)} ${check.missingForward.join(", ")} that this model runs`);
  }
  if (check.missingGradient.length > 0) {
    lines.push(`backend ${backend} lacks what training needs for the gradient: ${check.missingGradient.join(", ")}`);
  }
  if (lines.length === 0) return undefined;
  const other = backend === "cpu" ? "another backend" : "--backend cpu (slow, but it has every kernel)";
  return `${lines.join("\n")}\nuse ${other}`;
}

function plural(xs: unknown[]): string {
  return xs.length === 1 ? "" : "s";
}
