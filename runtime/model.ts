// A runnable model from an IR program: emit the TypeScript module (compiler/codegen), transpile it,
// cache it on disk and import it, then create one tf.Variable per parameter initialised from the
// IR's `Init` with a seeded generator. The trainer and the evaluator only ever call the generated
// `forward`, so what runs is exactly what `vlmc compile --emit ts` prints.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import ts from "typescript";
import { emitTypeScript } from "../compiler/codegen/index.js";
import type { Init, IRProgram } from "../compiler/ir.js";
import { createRng } from "./data/rng.js";
import { writeFileAtomic } from "./io/atomic.js";
import { ops as defaultOps } from "./ops/index.js";
import type { Ops, Scalar, Tensor } from "./ops/types.js";

/** The exports of a generated module (see compiler/codegen/templates/module.hbs). */
export interface GeneratedModule {
  model: string;
  source: { file: string; hash: string };
  params: readonly { name: string; shape: readonly number[]; init: Init; trainable: boolean }[];
  inputs: readonly { name: string; shape: readonly (number | string)[]; dtype: "float32" | "int32" }[];
  outputs: readonly { name: string; shape: readonly (number | string)[]; dtype: "float32" | "int32" }[];
  train: Readonly<Record<string, string | number | boolean>>;
  forward(
    ops: Ops,
    p: Record<string, Tensor>,
    inputs: Record<string, Tensor>,
    options?: { loss?: boolean },
  ): ForwardResult;
}

export interface ForwardResult {
  outputs: Record<string, Tensor>;
  loss?: Scalar;
}

export interface LoadModelOptions {
  /** Seed of the parameter initialisation (default 0). */
  seed?: number;
  /** Where transpiled modules are cached (default ".vlmc-cache" in the working directory). */
  cacheDir?: string;
  /** The runtime primitives (default: runtime/ops). */
  ops?: Ops;
  /**
   * false: start every parameter at zero instead of drawing its initial values, for callers that
   * load weights right away (saves the draws for large models). Default true.
   */
  initialize?: boolean;
}

export interface Model {
  program: IRProgram;
  module: GeneratedModule;
  /** The generated TypeScript and the path of the transpiled module that was imported. */
  code: string;
  modulePath: string;
  /** Every parameter by IR name, in IR order. */
  params: Map<string, tf.Variable>;
  /** The parameters the optimizer updates (frozen ones excluded), in IR order. */
  trainable: Map<string, tf.Variable>;
  /** Total number of parameter values. */
  paramCount: number;
  /** Runs the generated forward on the current parameters. Call inside tf.tidy. */
  forward(inputs: Record<string, Tensor>, options?: { loss?: boolean }): ForwardResult;
  /** Overwrites parameter values (e.g. from a checkpoint); every name must exist with its shape. */
  setParams(values: ReadonlyMap<string, Float32Array>): void;
  /** Current parameter values, copied to the host. */
  readParams(): Map<string, { shape: number[]; data: Float32Array }>;
  dispose(): void;
}

/** Emits, transpiles, caches and imports the module for `program`, then initialises its parameters. */
export async function loadModel(program: IRProgram, options: LoadModelOptions = {}): Promise<Model> {
  const code = emitTypeScript(program);
  const modulePath = cacheModule(program, code, options.cacheDir ?? ".vlmc-cache");
  const module = (await import(pathToFileURL(modulePath).href)) as GeneratedModule;
  const ops = options.ops ?? defaultOps;
  const seed = options.seed ?? 0;

  const params = new Map<string, tf.Variable>();
  const trainable = new Map<string, tf.Variable>();
  let paramCount = 0;
  for (const spec of module.params) {
    const values =
      options.initialize === false
        ? new Float32Array(spec.shape.reduce((a, b) => a * b, 1))
        : initialValues(spec.init, spec.shape, seed, spec.name);
    // Unnamed variables: two models in one process may have the same parameter names.
    const initial = tf.tensor(values, [...spec.shape], "float32");
    const variable = tf.variable(initial, spec.trainable);
    initial.dispose(); // the variable holds its own reference to the data
    params.set(spec.name, variable);
    if (spec.trainable) trainable.set(spec.name, variable);
    paramCount += values.length;
  }
  // The generated code indexes parameters by name; an object with own keys (no prototype lookups).
  const paramObject: Record<string, Tensor> = Object.fromEntries(params);

  return {
    program,
    module,
    code,
    modulePath,
    params,
    trainable,
    paramCount,
    forward: (inputs, forwardOptions) => module.forward(ops, paramObject, inputs, forwardOptions),
    setParams(values) {
      for (const [name, data] of values) {
        const variable = params.get(name);
        if (!variable) throw new Error(`setParams: the model has no parameter named ${JSON.stringify(name)}`);
        if (data.length !== variable.size) {
          throw new Error(`setParams: ${name} needs ${variable.size} values, got ${data.length}`);
        }
        tf.tidy(() => variable.assign(tf.tensor(data, variable.shape, "float32")));
      }
    },
    readParams() {
      const out = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [name, variable] of params) out.set(name, { shape: [...variable.shape], data: variable.dataSync() as Float32Array });
      return out;
    },
    dispose() {
      for (const variable of params.values()) variable.dispose();
    },
  };
}

/**
 * Writes the transpiled module (and the TypeScript beside it, for reading) under `cacheDir`, named
 * by the model and a hash of the code, unless it is already there. Returns the .mjs path.
 */
function cacheModule(program: IRProgram, code: string, cacheDir: string): string {
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
  const stem = `${program.model.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40) || "model"}-${hash}`;
  const jsPath = resolve(join(cacheDir, `${stem}.mjs`));
  if (!existsSync(jsPath)) {
    const js = ts.transpileModule(code, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: `${stem}.ts`,
    }).outputText;
    writeFileAtomic(join(cacheDir, `${stem}.ts`), code);
    writeFileAtomic(jsPath, js);
  }
  return jsPath;
}

/**
 * The initial values of one parameter. Each parameter draws from its own generator, seeded from the
 * run seed and its name, so adding a parameter never changes the others' values, and values are
 * generated in JavaScript, then uploaded: the same on every backend.
 */
export function initialValues(init: Init, shape: readonly number[], seed: number, name: string): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  const rng = createRng(paramSeed(seed, name));
  switch (init.kind) {
    case "zeros":
      return out;
    case "ones":
      return out.fill(1);
    case "constant":
      return out.fill(init.value);
    case "normal":
      for (let i = 0; i < size; i++) out[i] = rng.normal() * init.std;
      return out;
    case "truncated_normal":
      // Redraw beyond two standard deviations, as tf.truncatedNormal and timm's trunc_normal_ do.
      for (let i = 0; i < size; i++) {
        let z = rng.normal();
        while (Math.abs(z) > 2) z = rng.normal();
        out[i] = z * init.std;
      }
      return out;
    case "glorot_uniform": {
      const limit = Math.sqrt(6 / (init.fanIn + init.fanOut));
      for (let i = 0; i < size; i++) out[i] = rng.uniform(-limit, limit);
      return out;
    }
    case "uniform":
      for (let i = 0; i < size; i++) out[i] = rng.uniform(-init.bound, init.bound);
      return out;
    case "he_normal": {
      const std = Math.sqrt(2 / init.fanIn);
      for (let i = 0; i < size; i++) out[i] = rng.normal() * std;
      return out;
    }
  }
  throw new Error(`parameter ${name}: unknown initialiser ${JSON.stringify((init as { kind: unknown }).kind)}`);
}

/** FNV-1a over the name, mixed with the run seed. */
function paramSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
