// Backend selection: which tfjs backend runs the model, and why.
//
// Order for "auto": native TensorFlow (tfjs-node-gpu, then tfjs-node) when installed and built
// against this project's own @tensorflow/tfjs-core, else wasm (zero-install, fast with our gradient
// lowerings), else the pure-JS cpu backend. The native packages download libtensorflow at install
// time, so they are optional: their absence is the normal case and costs one failed resolve.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { registerWasmGradients } from "./ops/wasm-gradients.js";
import { ensureTfjsGradients } from "./ops/tfjs-gradients.js";
import { registerWasmKernels } from "./wasm-kernels.js";

export type BackendRequest = "auto" | "tensorflow" | "wasm" | "cpu";
export const BACKEND_CHOICES: readonly BackendRequest[] = ["auto", "tensorflow", "wasm", "cpu"];

export interface BackendChoice {
  /** The tfjs backend name now active: "tensorflow" | "wasm" | "cpu". */
  name: string;
  /** One line for the user: why this backend was picked. */
  reason: string;
}

/** A backend the user asked for explicitly could not be started. The message says why and what to do. */
export class BackendError extends Error {
  override name = "BackendError";
}

const NATIVE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;
const requireHere = createRequire(import.meta.url);

let last: { requested: BackendRequest; choice: BackendChoice } | undefined;

function defaultRequest(): BackendRequest {
  const env = process.env.VLMC_BACKEND;
  if (env === undefined || env === "") return "auto";
  if ((BACKEND_CHOICES as readonly string[]).includes(env)) return env as BackendRequest;
  throw new BackendError(`VLMC_BACKEND is '${env}'; expected one of ${BACKEND_CHOICES.join(", ")}`);
}

/**
 * Activates a backend and reports which one and why. Idempotent: a second call with the same
 * request returns the same choice without re-initialising anything.
 */
export async function initBackend(requested: BackendRequest = defaultRequest()): Promise<BackendChoice> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(requested)) {
    throw new BackendError(`unknown backend '${String(requested)}'; expected one of ${BACKEND_CHOICES.join(", ")}`);
  }
  if (last && last.requested === requested && tf.getBackend() === last.choice.name) return last.choice;
  // Gradients first (stock ones, then the wasm lowerings that wrap them). The lowerings dispatch on
  // the active backend when a gradient is built, so they are inert on cpu and tensorflow.
  await ensureTfjsGradients();
  registerWasmGradients();
  // PROD silences tfjs's console banners (e.g. the cpu backend's "install tfjs-node" advice); the
  // CLI reports the backend and the reason itself.
  tf.env().set("PROD", true);
  const choice = await chooseBackend(requested);
  last = { requested, choice };
  return choice;
}

async function chooseBackend(requested: BackendRequest): Promise<BackendChoice> {
  switch (requested) {
    case "cpu":
      await activate("cpu");
      return { name: "cpu", reason: "requested (pure JavaScript: slow, meant for tiny tests)" };
    case "wasm":
      await activateWasm();
      return { name: "wasm", reason: "requested" };
    case "tensorflow": {
      const probe = await probeNative();
      if (!probe.ok) {
        throw new BackendError(
          `--backend tensorflow: ${probe.why}. Install @tensorflow/tfjs-node (or -gpu) 4.22.0 next to vlmc, ` +
            `or use --backend wasm`,
        );
      }
      return { name: "tensorflow", reason: `requested; native TensorFlow from ${probe.pkg}` };
    }
    case "auto": {
      const probe = await probeNative();
      if (probe.ok) return { name: "tensorflow", reason: `auto: native TensorFlow from ${probe.pkg}` };
      try {
        await activateWasm();
        return { name: "wasm", reason: `auto: ${probe.why}; using wasm (XNNPACK, with vlmc's gradient lowerings)` };
      } catch (err) {
        await activate("cpu");
        return { name: "cpu", reason: `auto: ${probe.why}; wasm failed to start (${errorText(err)}); using cpu (slow)` };
      }
    }
  }
}

async function activate(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new BackendError(`the tfjs backend '${name}' failed to initialise`);
  await tf.ready();
}

/** The directory holding the .wasm binaries, found from the installed package, not the cwd. */
export function wasmBinaryDir(): string {
  const pkgJson = requireHere.resolve("@tensorflow/tfjs-backend-wasm/package.json");
  return path.join(path.dirname(pkgJson), "dist") + path.sep;
}

let wasmPathsSet = false;

async function activateWasm(): Promise<void> {
  // setWasmPaths must precede the backend's first initialisation and may only be given once.
  if (!wasmPathsSet && tf.engine().registry["wasm"] === undefined) {
    setWasmPaths(wasmBinaryDir());
    wasmPathsSet = true;
  }
  registerWasmKernels();
  await activate("wasm");
}

type NativeProbe = { ok: true; pkg: string } | { ok: false; why: string };

/**
 * Finds and activates a native TensorFlow backend. Only one native package is ever imported: both
 * register the backend name "tensorflow", and loading both in one process breaks it.
 */
async function probeNative(): Promise<NativeProbe> {
  if (tf.engine().registryFactory["tensorflow"] !== undefined) {
    await activate("tensorflow");
    return { ok: true, pkg: "an already loaded native binding" };
  }
  const ourCore = requireHere.resolve("@tensorflow/tfjs-core");
  for (const pkg of NATIVE_PACKAGES) {
    let entry: string;
    try {
      entry = requireHere.resolve(pkg);
    } catch {
      continue; // not installed: the normal case
    }
    // A native package with its own nested tfjs-core would register on another engine instance.
    let theirCore: string;
    try {
      theirCore = createRequire(entry).resolve("@tensorflow/tfjs-core");
    } catch {
      return { ok: false, why: `${pkg} is installed but cannot find @tensorflow/tfjs-core` };
    }
    if (theirCore !== ourCore) {
      return { ok: false, why: `${pkg} uses its own copy of @tensorflow/tfjs-core (${theirCore}), not vlmc's (version ${tf.version_core})` };
    }
    try {
      await import(pathToFileURL(entry).href);
    } catch (err) {
      return { ok: false, why: `${pkg} is installed but failed to load: ${errorText(err)}` };
    }
    if (tf.engine().registryFactory["tensorflow"] === undefined) {
      return { ok: false, why: `${pkg} loaded but did not register the 'tensorflow' backend on vlmc's tfjs-core` };
    }
    try {
      await activate("tensorflow");
    } catch (err) {
      return { ok: false, why: `${pkg} loaded but its backend failed to start: ${errorText(err)}` };
    }
    return { ok: true, pkg };
  }
  return { ok: false, why: "native TensorFlow (@tensorflow/tfjs-node or -gpu) is not installed" };
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0] ?? text;
}
