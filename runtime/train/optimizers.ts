// Optimizers over tfjs ops with explicit, checkpointable state. The update rules are PyTorch's
// (torch.optim.SGD / Adam / AdamW), so hyper-parameters carry over from papers and reference code.
//
// Weight decay applies by default only to kernels (parameters whose last name segment ends in
// "kernel": dense and conv weights, attention projections). Biases, norm scales, embedding and
// position tables, class/learned tokens and scalars are not decayed: shrinking them towards zero has
// no regularising meaning (GPT and timm recipes). `decay: "all"` decays every parameter, as
// torch.optim does when given model.parameters(). AdamW decays decoupled (p ← p − lr·wd·p, then the
// Adam step); SGD and Adam add wd·p to the gradient (classic L2).
import * as tf from "@tensorflow/tfjs-core";
import { adamUpdateSimdScalars } from "../wasm-simd/elementwise.js";

export type OptimizerName = "sgd" | "adam" | "adamw";
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ["sgd", "adam", "adamw"];
/** Which parameters weight decay applies to (see the note at the top). */
export type DecayScope = "kernels" | "all";
export const DECAY_SCOPES: readonly DecayScope[] = ["kernels", "all"];

export interface OptimizerConfig {
  name: OptimizerName;
  /** SGD momentum (0 = plain SGD). Default 0.9. */
  momentum?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Default "kernels". */
  decay?: DecayScope;
}

/** A host copy of one state tensor, for checkpoints. */
export interface StateTensor {
  shape: number[];
  data: Float32Array;
}

export interface Optimizer {
  readonly config: Required<OptimizerConfig>;
  /** Number of updates applied so far. */
  readonly steps: number;
  /** Applies one update with learning rate `lr`. Call inside tf.tidy; gradients are not disposed. */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void;
  /**
   * The numbers of the next update that change from step to step (learning rate, bias
   * corrections), by name. `apply` is `update` with these as scalar tensors, then `advance`; a step
   * compiled into a TensorFlow graph (runtime/native-graph/) feeds them in as inputs, so the same
   * graph serves every step.
   */
  stepScalars(lr: number): Record<string, number>;
  /** The update with `stepScalars`' numbers as scalar tensors; does not count the step. Call inside tf.tidy. */
  update(grads: ReadonlyMap<string, tf.Tensor>, scalars: Readonly<Record<string, tf.Scalar>>): void;
  /** Counts one update (made by `update`, or by a compiled graph). */
  advance(): void;
  /** State tensors by checkpoint name ("adam.m.<param>", "sgd.momentum.<param>"). */
  saveState(): Map<string, StateTensor>;
  /** Restores what `saveState` returned, with the step count it was saved at. */
  loadState(state: ReadonlyMap<string, StateTensor>, steps: number): void;
  dispose(): void;
}

/** Whether weight decay applies to the parameter named `name` (see the note at the top). */
export function isDecayed(name: string, scope: DecayScope = "kernels"): boolean {
  if (scope === "all") return true;
  const last = name.slice(name.lastIndexOf(".") + 1);
  return last.endsWith("kernel");
}

/** `apply` in terms of the other three: one implementation for every optimizer. */
function applyWithScalars(optimizer: Optimizer, grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
  optimizer.update(grads, scalarTensors(optimizer.stepScalars(lr)));
  optimizer.advance();
}

/** Float32 scalar tensors of `numbers` (what tfjs makes of a number operand anyway). */
export function scalarTensors(numbers: Readonly<Record<string, number>>): Record<string, tf.Scalar> {
  const out: Record<string, tf.Scalar> = {};
  for (const [name, value] of Object.entries(numbers)) out[name] = tf.scalar(value, "float32");
  return out;
}

/**
 * The optimizer for `params`. Adam and AdamW come in two forms with the same results (see
 * MultiTensorAdam): `multiTensor` picks one, by default the faster on the active backend.
 */
export function createOptimizer(
  config: OptimizerConfig,
  params: ReadonlyMap<string, tf.Variable>,
  options: { multiTensor?: boolean } = {},
): Optimizer {
  const full: Required<OptimizerConfig> = {
    name: config.name,
    momentum: config.momentum ?? 0.9,
    beta1: config.beta1 ?? 0.9,
    beta2: config.beta2 ?? 0.999,
    eps: config.eps ?? 1e-8,
    weightDecay: config.weightDecay ?? (config.name === "adamw" ? 0.01 : 0),
    decay: config.decay ?? "kernels",
  };
  switch (full.name) {
    case "sgd":
      return new Sgd(full, params);
    case "adam":
    case "adamw":
      return (options.multiTensor ?? tf.getBackend() === "tensorflow") ? new MultiTensorAdam(full, params) : new Adam(full, params);
  }
  throw new Error(`unknown optimizer ${JSON.stringify(config.name)}: expected one of ${OPTIMIZER_NAMES.join(", ")}`);
}

/** The state tensors shared by both optimizers: named slots per parameter, as variables. */
abstract class OptimizerBase implements Optimizer {
  steps = 0;
  protected readonly slots = new Map<string, tf.Variable>();

  constructor(
    readonly config: Required<OptimizerConfig>,
    protected readonly params: ReadonlyMap<string, tf.Variable>,
    slotNames: string[],
  ) {
    for (const [name, param] of params) {
      for (const slot of slotNames) {
        const zeros = tf.zeros(param.shape);
        this.slots.set(`${config.name}.${slot}.${name}`, tf.variable(zeros, false));
        zeros.dispose(); // the variable holds its own reference to the data
      }
    }
  }

  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    applyWithScalars(this, grads, lr);
  }

  abstract stepScalars(lr: number): Record<string, number>;
  abstract update(grads: ReadonlyMap<string, tf.Tensor>, scalars: Readonly<Record<string, tf.Scalar>>): void;

  advance(): void {
    this.steps++;
  }

  protected slot(slot: string, param: string): tf.Variable {
    return this.slots.get(`${this.config.name}.${slot}.${param}`)!;
  }

  /** The gradient with classic L2 decay added, for kernels. */
  protected decayedGradient(name: string, param: tf.Variable, grad: tf.Tensor): tf.Tensor {
    const wd = this.config.weightDecay;
    return wd > 0 && isDecayed(name, this.config.decay) ? tf.add(grad, tf.mul(param, wd)) : grad;
  }

  saveState(): Map<string, StateTensor> {
    const out = new Map<string, StateTensor>();
    for (const [name, v] of this.slots) out.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
    return out;
  }

  loadState(state: ReadonlyMap<string, StateTensor>, steps: number): void {
    for (const [name, variable] of this.slots) {
      const saved = state.get(name);
      if (!saved) throw new Error(`the checkpoint's optimizer state has no ${name} (was it saved by another optimizer?)`);
      if (saved.data.length !== variable.size) throw new Error(`optimizer state ${name} has ${saved.data.length} values, expected ${variable.size}`);
      tf.tidy(() => variable.assign(tf.tensor(saved.data, variable.shape, "float32")));
    }
    this.steps = steps;
  }

  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
  }
}

/** torch.optim.SGD: buf ← μ·buf + g; p ← p − lr·buf (no state when μ = 0). */
class Sgd extends OptimizerBase {
  constructor(config: Required<OptimizerConfig>, params: ReadonlyMap<string, tf.Variable>) {
    super(config, params, config.momentum > 0 ? ["momentum"] : []);
  }

  stepScalars(lr: number): Record<string, number> {
    return { lr };
  }

  update(grads: ReadonlyMap<string, tf.Tensor>, { lr }: Readonly<Record<string, tf.Scalar>>): void {
    const { momentum } = this.config;
    for (const [name, param] of this.params) {
      const raw = grads.get(name);
      if (!raw) continue;
      let step = this.decayedGradient(name, param, raw);
      if (momentum > 0) {
        const buf = this.slot("momentum", name);
        buf.assign(tf.add(tf.mul(buf, momentum), step));
        step = buf;
      }
      param.assign(tf.sub(param, tf.mul(step, lr!)));
    }
  }
}

/**
 * Adam's per-step numbers for update `t`: the bias-corrected step size, √(1−β2^t), and AdamW's
 * decoupled shrink factor 1 − lr·wd (computed in float64 as before, rounded once to float32).
 */
function adamStepScalars(config: Required<OptimizerConfig>, t: number, lr: number): Record<string, number> {
  const { beta1, beta2, weightDecay } = config;
  return { stepSize: lr / (1 - beta1 ** t), sqrtCorrection2: Math.sqrt(1 - beta2 ** t), keep: 1 - lr * weightDecay };
}

/**
 * torch.optim.Adam / AdamW: m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
 * p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε); AdamW first shrinks kernels: p ← p·(1 − lr·wd).
 * One parameter at a time: the fastest form on wasm and cpu (see MultiTensorAdam). On wasm each
 * parameter's step is one kernel of ours (runtime/wasm-simd/elementwise.ts) with the same float32
 * arithmetic in the same order, so the values are the same to the bit.
 */
class Adam extends OptimizerBase {
  constructor(config: Required<OptimizerConfig>, params: ReadonlyMap<string, tf.Variable>) {
    super(config, params, ["m", "v"]);
  }

  stepScalars(lr: number): Record<string, number> {
    return adamStepScalars(this.config, this.steps + 1, lr);
  }

  update(grads: ReadonlyMap<string, tf.Tensor>, scalars: Readonly<Record<string, tf.Scalar>>): void {
    for (const [name, param] of this.params) {
      const raw = grads.get(name);
      if (raw) this.updateOne(name, param, this.gradient(name, param, raw), scalars);
    }
  }

  private gradient(name: string, param: tf.Variable, raw: tf.Tensor): tf.Tensor {
    return this.config.name === "adamw" ? raw : this.decayedGradient(name, param, raw);
  }

  private decoupledDecay(name: string): boolean {
    return this.config.name === "adamw" && this.config.weightDecay > 0 && isDecayed(name, this.config.decay);
  }

  /**
   * One parameter's update with the per-step numbers as tensors, with gradient `g` (decay already
   * added): one fused SIMD kernel where there is one (wasm), else the same arithmetic in tfjs ops.
   */
  private updateOne(name: string, param: tf.Variable, g: tf.Tensor, scalars: Readonly<Record<string, tf.Scalar>>): void {
    const { beta1, beta2, eps } = this.config;
    const { stepSize, sqrtCorrection2, keep } = scalars as Record<string, tf.Scalar>;
    const m = this.slot("m", name);
    const v = this.slot("v", name);
    const decays = this.decoupledDecay(name);
    const fused = adamUpdateSimdScalars(param, g, m, v, { beta1, beta2, eps }, { stepSize: stepSize!, sqrtCorrection2: sqrtCorrection2!, ...(decays ? { keep: keep! } : {}) });
    if (fused) {
      param.assign(fused[0]);
      m.assign(fused[1]);
      v.assign(fused[2]);
      return;
    }
    m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
    v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.mul(g, g), 1 - beta2)));
    const start = decays ? tf.mul(param, keep!) : param;
    const denom = tf.add(tf.div(tf.sqrt(v), sqrtCorrection2!), eps);
    param.assign(tf.sub(start, tf.mul(tf.div(m, denom), stepSize!)));
  }
}

/**
 * Adam / AdamW as above, multi-tensor like torch's foreach Adam: m and v of every parameter live in
 * one flat vector each, and one step is a dozen kernels over all parameters at once (gradients
 * concatenated, the update split back) instead of a dozen per parameter. On native TensorFlow,
 * where each kernel launch costs more than the arithmetic of these small models, this cuts a step
 * by 5–9%; on wasm the concatenation and split cost more than they save (docs/performance.md), so
 * createOptimizer picks this one for the tensorflow backend only. The per-element arithmetic is
 * Adam's, in the same order, so both give the same values to the bit
 * (test/train-optimizers.test.ts), and their checkpoints are interchangeable ("adam.m.<param>").
 */
class MultiTensorAdam implements Optimizer {
  steps = 0;
  private readonly names: string[];
  private readonly sizes: number[];
  private readonly offsets: number[];
  private readonly m: tf.Variable;
  private readonly v: tf.Variable;

  constructor(
    readonly config: Required<OptimizerConfig>,
    private readonly params: ReadonlyMap<string, tf.Variable>,
  ) {
    this.names = [...params.keys()];
    this.sizes = [...params.values()].map((p) => p.size);
    this.offsets = this.sizes.map((_, i) => this.sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const total = this.sizes.reduce((a, b) => a + b, 0);
    this.m = tf.tidy(() => tf.variable(tf.zeros([total]), false));
    this.v = tf.tidy(() => tf.variable(tf.zeros([total]), false));
  }

  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    applyWithScalars(this, grads, lr);
  }

  stepScalars(lr: number): Record<string, number> {
    return adamStepScalars(this.config, this.steps + 1, lr);
  }

  advance(): void {
    this.steps++;
  }

  update(grads: ReadonlyMap<string, tf.Tensor>, scalars: Readonly<Record<string, tf.Scalar>>): void {
    const { beta1, beta2, eps, weightDecay, decay, name: kind } = this.config;
    const { stepSize, sqrtCorrection2, keep } = scalars as Record<string, tf.Scalar>;
    const decoupled = kind === "adamw";
    const has = this.names.map((name) => grads.has(name));
    if (has.some(Boolean)) {
      const flat = this.names.map((name, i) => {
        const param = this.params.get(name)!;
        // A parameter the loss does not reach has no gradient; torch skips it, and so do we (below).
        const raw = grads.get(name) ?? tf.zeros(param.shape);
        const g = decoupled || !(weightDecay > 0 && isDecayed(name, decay)) ? raw : tf.add(raw, tf.mul(param, weightDecay));
        return tf.reshape(g, [this.sizes[i]!]);
      });
      const g = flat.length === 1 ? flat[0]! : tf.concat(flat);
      const m = tf.add(tf.mul(this.m, beta1), tf.mul(g, 1 - beta1));
      const v = tf.add(tf.mul(this.v, beta2), tf.mul(tf.mul(g, g), 1 - beta2));
      const denom = tf.add(tf.div(tf.sqrt(v), sqrtCorrection2!), eps);
      const update = tf.mul(tf.div(m, denom), stepSize!);
      const updates = this.sizes.length === 1 ? [update] : tf.split(update, this.sizes);
      this.names.forEach((name, i) => {
        if (!has[i]) return;
        const param = this.params.get(name)!;
        const start = decoupled && weightDecay > 0 && isDecayed(name, decay) ? tf.mul(param, keep!) : param;
        param.assign(tf.sub(start, tf.reshape(updates[i]!, param.shape)));
      });
      const everyone = has.every(Boolean);
      this.m.assign(everyone ? m : this.keepUnused(m, this.m, has));
      this.v.assign(everyone ? v : this.keepUnused(v, this.v, has));
    }
  }

  /** `updated` where the parameter had a gradient, `old` elsewhere. */
  private keepUnused(updated: tf.Tensor, old: tf.Tensor, has: boolean[]): tf.Tensor {
    const pieces = this.names.map((_, i) => tf.slice(has[i] ? updated : old, [this.offsets[i]!], [this.sizes[i]!]));
    return tf.concat(pieces);
  }

  saveState(): Map<string, StateTensor> {
    const out = new Map<string, StateTensor>();
    for (const [slot, flat] of [["m", this.m], ["v", this.v]] as const) {
      const data = flat.dataSync() as Float32Array;
      this.names.forEach((name, i) => {
        out.set(`${this.config.name}.${slot}.${name}`, {
          shape: [...this.params.get(name)!.shape],
          data: data.slice(this.offsets[i]!, this.offsets[i]! + this.sizes[i]!),
        });
      });
    }
    return out;
  }

  loadState(state: ReadonlyMap<string, StateTensor>, steps: number): void {
    for (const [slot, flat] of [["m", this.m], ["v", this.v]] as const) {
      const data = new Float32Array(flat.size);
      this.names.forEach((name, i) => {
        const key = `${this.config.name}.${slot}.${name}`;
        const saved = state.get(key);
        if (!saved) throw new Error(`the checkpoint's optimizer state has no ${key} (was it saved by another optimizer?)`);
        if (saved.data.length !== this.sizes[i]) throw new Error(`optimizer state ${key} has ${saved.data.length} values, expected ${this.sizes[i]}`);
        data.set(saved.data, this.offsets[i]!);
      });
      tf.tidy(() => flat.assign(tf.tensor1d(data, "float32")));
    }
    this.steps = steps;
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
  }
}
