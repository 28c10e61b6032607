// Backend selection: which tfjs backend runs the model, and why.
//
// Order for "auto": native TensorFlow when it loads on this project's own @tensorflow/tfjs-core —
// tfjs-node-gpu or tfjs-node installed next to vlmc, else the build of `vlmc setup native`
// (runtime/native/location.ts says where) — else wasm (zero-install, fast with our gradient
// lowerings), else the pure-JS cpu backend. Native TensorFlow is optional: its absence is the
// normal case and costs two failed resolves and one failed file read, with nothing printed.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { registerWasmGradients } from "./ops/wasm-gradients.js";
import { ensureTfjsGradients } from "./ops/tfjs-gradients.js";
import { registerWasmKernels } from "./wasm-kernels.js";
import { registerNativeKernels } from "./native-kernels.js";
import { registerElementwiseKernels } from "./wasm-simd/elementwise.js";
import { registerWasmGemm } from "./wasm-simd/matmul.js";
import { registerWasmConv } from "./wasm-simd/conv2d.js";
import { nativeDir, nativeEntry, readManifest } from "./native/location.js";

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

/** One place native TensorFlow may come from. */
export interface NativeCandidate {
  /** Named in the reason line: "@tensorflow/tfjs-node", "vlmc setup native (…/.vlmc-native)". */
  label: string;
  /** The module to import. */
  entry: string;
  /** Built by `vlmc setup native` (a broken one is fixed by re-running it), not an npm package. */
  fromSetup?: boolean;
}

/** How native TensorFlow is found and loaded; tests replace it so that selection is deterministic. */
export interface NativeLoader {
  /** The candidates present on this machine, in order of preference (none: the normal case). */
  candidates(): NativeCandidate[];
  /** The tfjs-core module file the candidate would use (must be vlmc's: one engine). */
  coreOf(entry: string): string;
  /** Imports the candidate; it registers the backend "tensorflow" on tfjs-core as a side effect. */
  load(entry: string): Promise<void>;
}

export interface BackendOptions {
  /** Default: installed packages, then the build of `vlmc setup native` (defaultNativeLoader). */
  native?: NativeLoader;
}

const NATIVE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;
const requireHere = createRequire(import.meta.url);
const SETUP_HINT = "run `vlmc setup native` (builds it from the tensorflow-cpu Python wheel, no download)";

/** vlmc's own tfjs-core module file: a native backend must register on this one. */
export function vlmcCoreEntry(): string {
  return requireHere.resolve("@tensorflow/tfjs-core");
}

export const defaultNativeLoader: NativeLoader = {
  candidates() {
    const found: NativeCandidate[] = [];
    for (const pkg of NATIVE_PACKAGES) {
      try {
        found.push({ label: pkg, entry: requireHere.resolve(pkg) });
      } catch {
        // Not installed: the normal case.
      }
    }
    // Only a finished build: the setup writes its manifest last.
    const dir = nativeDir();
    if (readManifest(dir) !== undefined) found.push({ label: `the build of \`vlmc setup native\` (${dir})`, entry: nativeEntry(dir), fromSetup: true });
    return found;
  },
  coreOf(entry) {
    return createRequire(entry).resolve("@tensorflow/tfjs-core");
  },
  async load(entry) {
    // libtensorflow logs start-up banners to stderr unless told otherwise; a user's setting wins.
    if (process.env.TF_CPP_MIN_LOG_LEVEL === undefined) process.env.TF_CPP_MIN_LOG_LEVEL = "2";
    await import(pathToFileURL(entry).href);
  },
};

let last: { requested: BackendRequest; choice: BackendChoice } | undefined;
let loadedEntry: string | undefined;

/**
 * The module file of the native TensorFlow package this process loaded (undefined before one
 * loads, or when it was loaded by someone else): runtime/native-graph/ finds the package's
 * protobuf classes beside it.
 */
export function loadedNativeEntry(): string | undefined {
  return loadedEntry;
}

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
export async function initBackend(requested: BackendRequest = defaultRequest(), options: BackendOptions = {}): Promise<BackendChoice> {
  if (!(BACKEND_CHOICES as readonly string[]).includes(requested)) {
    throw new BackendError(`unknown backend '${String(requested)}'; expected one of ${BACKEND_CHOICES.join(", ")}`);
  }
  // An injected loader is a different question: never answer it from the cache.
  if (!options.native && last && last.requested === requested && tf.getBackend() === last.choice.name) return last.choice;
  // Gradients first (stock ones, then the wasm lowerings that wrap them). The lowerings dispatch on
  // the active backend when a gradient is built, so they are inert on cpu and tensorflow.
  await ensureTfjsGradients();
  registerWasmGradients();
  // PROD silences tfjs's console banners (e.g. the cpu backend's "install tfjs-node" advice); the
  // CLI reports the backend and the reason itself.
  tf.env().set("PROD", true);
  const choice = await chooseBackend(requested, options.native ?? defaultNativeLoader);
  last = options.native ? undefined : { requested, choice };
  return choice;
}

async function chooseBackend(requested: BackendRequest, native: NativeLoader): Promise<BackendChoice> {
  switch (requested) {
    case "cpu":
      await activate("cpu");
      return { name: "cpu", reason: "requested (pure JavaScript: slow, meant for tiny tests)" };
    case "wasm":
      await activateWasm();
      return { name: "wasm", reason: "requested" };
    case "tensorflow": {
      const probe = await probeNative(native);
      if (!probe.ok) {
        throw new BackendError(`--backend tensorflow: ${probe.why}; ${probe.fix}, or use --backend wasm`);
      }
      return { name: "tensorflow", reason: `requested; native TensorFlow from ${probe.pkg}` };
    }
    case "auto": {
      const probe = await probeNative(native);
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
  registerElementwiseKernels();
  registerWasmGemm();
  registerWasmConv();
  await activate("wasm");
}

/** `fix` says what to do about a failure: set it up, rebuild it, or repair the package in the way. */
type NativeProbe = { ok: true; pkg: string } | { ok: false; why: string; fix: string };

/**
 * Finds and activates a native TensorFlow backend. Only one native candidate is ever imported:
 * each registers the backend name "tensorflow", and loading two in one process breaks it. A
 * candidate that is present but broken ends the search with its reason (auto then says why it
 * fell back) rather than silently trying the next.
 */
export async function probeNative(native: NativeLoader = defaultNativeLoader): Promise<NativeProbe> {
  if (tf.engine().registryFactory["tensorflow"] !== undefined) {
    try {
      await activate("tensorflow");
    } catch (err) {
      return { ok: false, why: `the loaded native backend failed to start: ${errorText(err)}`, fix: "restart without it" };
    }
    registerNativeKernels();
    return { ok: true, pkg: "an already loaded native binding" };
  }
  const candidate = native.candidates()[0];
  if (candidate === undefined) return { ok: false, why: "native TensorFlow is not set up (no @tensorflow/tfjs-node, no `vlmc setup native` build)", fix: SETUP_HINT };
  const { label, entry } = candidate;
  // Only the first candidate is tried, so a broken one must be repaired or removed.
  const fix = candidate.fromSetup ? "re-run `vlmc setup native --force`" : `reinstall or remove ${label}`;
  // A native package with its own nested tfjs-core would register on another engine instance.
  let theirCore: string;
  try {
    theirCore = native.coreOf(entry);
  } catch {
    return { ok: false, why: `${label} cannot find @tensorflow/tfjs-core`, fix };
  }
  if (theirCore !== vlmcCoreEntry()) {
    return { ok: false, why: `${label} uses its own copy of @tensorflow/tfjs-core (${theirCore}), not vlmc's (version ${tf.version_core})`, fix };
  }
  try {
    await native.load(entry);
  } catch (err) {
    return { ok: false, why: `${label} failed to load: ${errorText(err)}`, fix };
  }
  loadedEntry = entry;
  if (tf.engine().registryFactory["tensorflow"] === undefined) {
    return { ok: false, why: `${label} loaded but did not register the 'tensorflow' backend on vlmc's tfjs-core`, fix };
  }
  try {
    await activate("tensorflow");
  } catch (err) {
    return { ok: false, why: `${label} loaded but its backend failed to start: ${errorText(err)}`, fix };
  }
  registerNativeKernels();
  return { ok: true, pkg: label };
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0] ?? text;
}
