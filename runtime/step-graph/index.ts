// The compiled form of a function for the active backend (see traced-function.ts): one TensorFlow
// graph on native TensorFlow (runtime/native-graph/), a kernel sequence replayed without tfjs's
// engine on wasm (runtime/kernel-replay/), none on cpu.
import { KernelReplayFunction, kernelReplayAvailable } from "../kernel-replay/adapter.js";
import { NativeGraphFunction, nativeGraphAvailable } from "../native-graph/adapter.js";
import type { GraphBody, TracedFunction, TracedFunctionOptions } from "./traced-function.js";

export type { GraphBody, Tensors, TracedFunction, TracedFunctionOptions } from "./traced-function.js";

/** `body` as a function to be recorded and compiled on the active backend, or undefined where it cannot be. */
export function tracedFunction(body: GraphBody, options: TracedFunctionOptions): TracedFunction<unknown, unknown, unknown> | undefined {
  if (nativeGraphAvailable()) return new NativeGraphFunction(body, options) as TracedFunction<unknown, unknown, unknown>;
  if (kernelReplayAvailable()) return new KernelReplayFunction(body, options) as TracedFunction<unknown, unknown, unknown>;
  return undefined;
}
