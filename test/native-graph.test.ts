// runtime/native-graph/: a training step recorded on native TensorFlow and run as one graph.
// The recording, its description (what two steps must share to share a graph) and the graph
// built from it are checked everywhere with a stand-in binding and stand-in protobuf classes; the
// real thing — graph steps against eager steps on bundled models, every fallback to op by op, the
// GatherV2 without a host read — only where a native build loads (`vlmc setup native`, or
// VLMC_NATIVE_DIR pointing at one): CI has none.
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, describe, expect, test } from "vitest";
import { buildGraph } from "../runtime/native-graph/graph-def.js";
import { describeTrace, traceStep, type Trace } from "../runtime/native-graph/trace.js";
import type { Binding, GraphProtos, NodeBackend, OutputMeta } from "../runtime/native-graph/tfjs-node.js";
import { NativeGraphFunction } from "../runtime/native-graph/adapter.js";
import { initBackend, probeNative } from "../runtime/backend.js";
import { createOptimizer, scalarTensors } from "../runtime/train/optimizers.js";
import { createTrainStep } from "../runtime/train/step.js";
import { loadModel } from "../runtime/model.js";
import { compileBenchModels, repoRoot } from "../bench/harness.js";
import { syntheticInputs } from "../bench/synthetic.js";

const ATTR = { TF_ATTR_STRING: 0, TF_ATTR_INT: 1, TF_ATTR_FLOAT: 2, TF_ATTR_BOOL: 3, TF_ATTR_TYPE: 4, TF_ATTR_SHAPE: 5 };

/** A binding that runs nothing: every op output and tensor gets the next id. */
function standInBackend(values: Map<number, Float32Array> = new Map()): NodeBackend {
  let next = 100;
  const binding = {
    ...ATTR,
    executeOp: (_op: string, _attrs: unknown, _inputs: number[], n: number): OutputMeta[] => Array.from({ length: n }, () => ({ id: next++, shape: [2], dtype: 1 })),
    createTensor: () => next++,
    tensorDataSync: (id: number) => values.get(id) ?? new Float32Array([0]),
    loadSavedModel: () => 0,
    runSavedModel: () => [],
    deleteSavedModel: () => {},
  } as Binding;
  return {
    binding,
    getInputTensorIds: (ts) => ts.map((t) => (t as unknown as { id: number }).id),
    createOutputTensor: () => { throw new Error("not here"); },
  };
}

/** A step over stand-in tensors: y = Mul(Add(x, w), c) with a constant c made in the step. */
function standInStep(be: NodeBackend, x: number, w: number, c: number[], read = false) {
  return traceStep(be, () => {
    const cId = be.binding.createTensor([2], 1, new Float32Array(c));
    be.getInputTensorIds([{ id: x, shape: [2], dtype: "float32" } as never, { id: w, shape: [2], dtype: "float32" } as never]);
    const [sum] = be.binding.executeOp("AddV2", [{ name: "T", type: ATTR.TF_ATTR_TYPE, value: 1 }], [x, w], 1);
    const [y] = be.binding.executeOp("Mul", [{ name: "T", type: ATTR.TF_ATTR_TYPE, value: 1 }], [sum!.id, cId], 1);
    if (read) be.binding.tensorDataSync(y!.id);
    return y!.id;
  });
}

describe("recording a step", () => {
  test("records ops, constants and reads, and puts the binding back", () => {
    const be = standInBackend();
    const binding = be.binding;
    const { result, trace } = standInStep(be, 1, 2, [3, 4], true);
    expect(be.binding).toBe(binding);
    expect(trace.ops.map((o) => o.op)).toEqual(["AddV2", "Mul"]);
    expect(trace.ops[1]!.outputs).toEqual([result]);
    expect([...trace.consts.values()].map((c) => [...new Float32Array(c.bytes.buffer)])).toEqual([[3, 4]]);
    expect(trace.inputInfo.get(1)).toEqual({ shape: [2], dtype: "float32" });
    expect(trace.hostReads).toBe(1);
  });

  test("the binding is put back when the step throws", () => {
    const be = standInBackend();
    const binding = be.binding;
    expect(() => traceStep(be, () => { throw new Error("boom"); })).toThrow("boom");
    expect(be.binding).toBe(binding);
  });

  test("two steps describe alike when only the slots' ids differ, not when a constant does", () => {
    const describe = (x: number, w: number, c: number[]) => {
      const be = standInBackend();
      const { result, trace } = standInStep(be, x, w, c);
      return describeTrace(trace, new Map([[x, "input:x"], [w, "var:w"]]), [{ name: "loss", id: result }]);
    };
    const first = describe(1, 2, [3, 4]);
    expect(first).toEqual(describe(7, 8, [3, 4]));
    expect(first).not.toEqual(describe(7, 8, [3, 5]));
    expect(first.join("\n")).toContain("Mul");
    expect(first.at(-1)).toBe("fetch loss <- %1:0");
    // A constant made in one step and the same values made before the next (a tensor made from
    // JavaScript first used in the first step) describe alike when the outside one can be read.
    const be = standInBackend(new Map([[50, new Float32Array([3, 4])]]));
    const second = standInStep(be, 7, 8, [3, 4]);
    second.trace.ops[1]!.inputs[1] = 50;
    second.trace.consts.clear();
    second.trace.inputInfo.set(50, { shape: [2], dtype: "float32" });
    const read = (id: number) => be.binding.tensorDataSync(id);
    expect(describeTrace(second.trace, new Map([[7, "input:x"], [8, "var:w"]]), [{ name: "loss", id: second.result }], read)).toEqual(first);
    expect(describeTrace(second.trace, new Map([[7, "input:x"], [8, "var:w"]]), [{ name: "loss", id: second.result }])).not.toEqual(first);
    // A tensor that is not a slot is named by its id, so a different one differs.
    const unnamed = (w: number) => {
      const be = standInBackend();
      const { result, trace } = standInStep(be, 1, w, [3, 4]);
      return describeTrace(trace, new Map([[1, "input:x"]]), [{ name: "loss", id: result }]);
    };
    expect(unnamed(2)).not.toEqual(unnamed(3));
  });
});

/** Stand-in protobuf classes: every setter stores its value, serializeBinary gives JSON. */
function standInProtos(): GraphProtos {
  const message = () =>
    class {
      fields: Record<string, unknown> = {};
      attrs = new Map<string, unknown>();
      constructor() {
        return new Proxy(this, {
          get: (target, prop: string) => {
            if (prop in target) return (target as Record<string, unknown>)[prop];
            if (prop.startsWith("set")) return (v: unknown) => { target.fields[prop.slice(3)] = v; };
            return undefined;
          },
        });
      }
      getAttrMap() { return this.attrs; }
      toJSON() { return { ...this.fields, ...(this.attrs.size ? { attr: Object.fromEntries(this.attrs) } : {}) }; }
      serializeBinary() { return new TextEncoder().encode(JSON.stringify(this)); }
    };
  const pb = {
    SavedModel: message(), MetaGraphDef: Object.assign(message(), { MetaInfoDef: message() }), GraphDef: message(), VersionDef: message(),
    NodeDef: message(), AttrValue: Object.assign(message(), { ListValue: message() }), TensorShape: Object.assign(message(), { Dim: message() }), Tensor: message(),
  };
  return pb as unknown as GraphProtos;
}

describe("building the graph", () => {
  test("placeholders for slots, one Const per distinct constant, ops wired by output, fetches named", () => {
    const be = standInBackend(new Map([[5, new Float32Array([9, 9])]]));
    const trace: Trace = standInStep(be, 1, 2, [3, 4]).trace;
    // A second op on the same constant values and on a tensor made before the step (id 5).
    const again = be.binding.createTensor([2], 1, new Float32Array([3, 4]));
    trace.consts.set(again, { shape: [2], dtype: 1, bytes: new Uint8Array(new Float32Array([3, 4]).buffer) });
    trace.inputInfo.set(5, { shape: [2], dtype: "float32" });
    trace.ops.push({ op: "Sub", attrs: [{ name: "T", type: ATTR.TF_ATTR_TYPE, value: 1 }, { name: "axes", type: ATTR.TF_ATTR_INT, value: [0, 1] }], inputs: [again, 5], outputs: [500] });
    const slots = new Map([[1, { key: "input:x", dtype: "float32" }], [2, { key: "var:w", dtype: "float32" }]]);
    const built = buildGraph(standInProtos(), be.binding, trace, slots, [trace.ops[1]!.outputs[0]!, 2, 500]);
    const model = JSON.parse(new TextDecoder().decode(built.savedModel)) as { MetaGraphsList: { GraphDef: { NodeList: { Name: string; Op: string; InputList: string[]; attr: Record<string, { fields?: unknown }> }[] } }[] };
    const nodes = model.MetaGraphsList[0]!.GraphDef.NodeList;
    expect(nodes.map((n) => n.Op)).toEqual(["Placeholder", "Placeholder", "AddV2", "Const", "Mul", "Const", "Sub"]);
    expect(nodes.find((n) => n.Name === "op_1")!.InputList).toEqual(["op_0:0", "const_0"]);
    // The same values made twice are one Const; the outside tensor becomes a Const of its value.
    expect(nodes.find((n) => n.Name === "op_2")!.InputList).toEqual(["const_0", "const_1"]);
    expect(built.feeds).toEqual(["input:x", "var:w"]);
    expect(built.inputNames).toBe("feed_0:0,feed_1:0");
    expect(built.outputNames).toBe("op_1:0,feed_1:0,op_2:0");
    expect(built.nodes).toBe(7);
  });

  test("a shape attribute is a shape, not a list", () => {
    const be = standInBackend();
    const trace: Trace = { ops: [{ op: "Placeholder", attrs: [{ name: "shape", type: ATTR.TF_ATTR_SHAPE, value: [2, -1] }], inputs: [], outputs: [7] }], consts: new Map(), inputInfo: new Map(), hostReads: 0 };
    const built = buildGraph(standInProtos(), be.binding, trace, new Map(), [7]);
    const text = new TextDecoder().decode(built.savedModel);
    expect(text).toContain('"shape":{"Shape":{"DimList":[{"Size":2},{"Size":-1}]}}');
    expect(text).not.toContain('"List"');
  });

  test("a tensor the step neither made nor was given, with no known shape, is an error", () => {
    const be = standInBackend();
    const trace: Trace = { ops: [{ op: "Neg", attrs: [], inputs: [42], outputs: [43] }], consts: new Map(), inputInfo: new Map(), hostReads: 0 };
    expect(() => buildGraph(standInProtos(), be.binding, trace, new Map(), [43])).toThrow(/tensor 42/);
  });
});

/** A NativeGraphFunction whose one output is a scalar loss, run and returned as such. */
function scalarStep(body: (inputs: Record<string, tf.Tensor>, scalars: Record<string, tf.Scalar>) => tf.Scalar, onMode: (line: string) => void) {
  const fn = new NativeGraphFunction((inputs: Readonly<Record<string, tf.Tensor>>, scalars: Readonly<Record<string, tf.Scalar>>) => ({ loss: body(inputs as Record<string, tf.Tensor>, scalars as Record<string, tf.Scalar>) }), { what: "training step", onMode });
  return {
    run: (inputs: Record<string, tf.Tensor>, scalars: Record<string, tf.Scalar>) => fn.run(inputs, scalars)["loss"] as tf.Scalar,
    get state() {
      return fn.state;
    },
    dispose: () => fn.dispose(),
  };
}

const native = process.env["VLMC_NATIVE_DIR"] ? (await probeNative()).ok : false;

describe.skipIf(!native)("on native TensorFlow", () => {
  const work = mkdtempSync(join(tmpdir(), "vlmc-graph-test-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** Losses and final parameters of `steps` steps of a bundled model, graph allowed or not. */
  async function train(key: "lenet5" | "vit" | "clip" | "kosmos", graph: boolean, steps: number, batch = 8) {
    await initBackend("tensorflow");
    const [c] = compileBenchModels(repoRoot(), [key], batch);
    const model = await loadModel(c!.program, { seed: 1, cacheDir: join(work, "cache") });
    const optimizer = createOptimizer({ name: (c!.program.train.optimizer ?? "adam") as "adam", weightDecay: 0.05 }, model.trainable);
    const modes: string[] = [];
    const step = createTrainStep({ params: model.trainable, loss: (x) => model.forward(x).loss!, optimizer, graph, clip: 1, onMode: (line) => modes.push(line) });
    const inputs = syntheticInputs(c!.program, batch);
    const losses: number[] = [];
    const tensorsAfter: number[] = [];
    for (let i = 0; i < steps; i++) {
      const loss = step.run(inputs, 1e-3 * (1 + i)); // a changing learning rate: a per-step scalar
      losses.push(loss.dataSync()[0]!);
      loss.dispose();
      tensorsAfter.push(tf.memory().numTensors);
    }
    const params = new Map([...model.trainable].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
    const result = { losses, params, modes, mode: step.mode, optimizerSteps: optimizer.steps, tensorsAfter };
    step.dispose();
    optimizer.dispose();
    model.dispose();
    tf.dispose(Object.values(inputs));
    return result;
  }

  test.each(["lenet5", "vit", "clip", "kosmos"] as const)("%s: graph steps follow eager steps (losses, parameters), no tensor leak", async (key) => {
    const eager = await train(key, false, 6);
    const graph = await train(key, true, 6);
    expect(eager.mode).toBe("eager");
    expect(graph.mode, graph.modes.join("\n")).toBe("compiled");
    expect(graph.modes[0]).toMatch(/runs as one graph/);
    expect(graph.optimizerSteps).toBe(6);
    // The first two steps are the traced eager ones: the same to the bit.
    expect(graph.losses.slice(0, 2)).toEqual(eager.losses.slice(0, 2));
    // Then TensorFlow's graph optimiser may fuse and reorder float arithmetic.
    for (let i = 2; i < 6; i++) expect(Math.abs(graph.losses[i]! - eager.losses[i]!), `step ${i + 1}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(eager.losses[i]!)));
    let worst = 0;
    for (const [name, e] of eager.params) {
      const g = graph.params.get(name)!;
      for (let j = 0; j < e.length; j++) worst = Math.max(worst, Math.abs(g[j]! - e[j]!));
    }
    // Adam moves each weight by up to lr a step (here ≤ 6e-3); rounding flips of m/√v near 0 stay far below.
    expect(worst).toBeLessThan(5e-4);
    // Steps 3–6 run the graph and leave exactly as many tensors as they found.
    expect(new Set(graph.tensorsAfter.slice(2)).size).toBe(1);
  }, 120_000);

  test("VLMC_NATIVE_GRAPH=0 keeps steps op by op", async () => {
    process.env["VLMC_NATIVE_GRAPH"] = "0";
    try {
      const run = await train("lenet5", true, 3);
      expect(run.mode).toBe("eager");
      expect(run.modes).toEqual([]);
    } finally {
      delete process.env["VLMC_NATIVE_GRAPH"];
    }
  }, 60_000);

  /** A tiny regression whose loss is built by `lossOf`, run 4 steps through NativeGraphStep. */
  async function tiny(lossOf: (x: tf.Tensor, w: tf.Variable) => tf.Scalar, batches: number[] = [4, 4, 4, 4], graph = true) {
    await initBackend("tensorflow");
    const w = tf.variable(tf.tensor2d([[0.5], [-0.25], [1]]), true, `w_tiny_${Math.random()}`);
    const modes: string[] = [];
    const body = (inputs: Readonly<Record<string, tf.Tensor>>, scalars: Readonly<Record<string, tf.Scalar>>) => {
      const { value, grads } = tf.variableGrads(() => lossOf(inputs["x"]!, w), [w]);
      w.assign(tf.sub(w, tf.mul(Object.values(grads)[0]!, scalars["lr"]!)));
      return value;
    };
    const graphStep = graph
      ? scalarStep(body, (line) => modes.push(line))
      : { run: (i: Record<string, tf.Tensor>, s: Record<string, tf.Scalar>) => tf.tidy(() => body(i, s)), state: "eager", dispose: () => {} };
    const losses: number[] = [];
    for (const b of batches) {
      const x = tf.tensor2d(Array.from({ length: b * 3 }, (_, i) => Math.sin(i + b)), [b, 3]);
      const lr = tf.scalar(0.1);
      const loss = graphStep.run({ x }, { lr });
      losses.push(loss.dataSync()[0]!);
      tf.dispose([x, lr, loss]);
    }
    const state = graphStep.state;
    graphStep.dispose();
    const final = w.dataSync().slice();
    w.dispose();
    return { modes, state, losses, final };
  }

  const square = (x: tf.Tensor, w: tf.Variable) => tf.mean(tf.square(tf.matMul(x, w))) as tf.Scalar;

  test("a tiny step becomes a graph and matches eager arithmetic", async () => {
    const run = await tiny(square);
    expect(run.state).toBe("compiled");
    // The same by hand, eagerly.
    const w = tf.tensor2d([[0.5], [-0.25], [1]]);
    let current = w;
    for (const b of [4, 4, 4, 4]) {
      const x = tf.tensor2d(Array.from({ length: b * 3 }, (_, i) => Math.sin(i + b)), [b, 3]);
      const g = tf.grad((v: tf.Tensor) => tf.mean(tf.square(tf.matMul(x, v))))(current);
      current = tf.sub(current, tf.mul(g, 0.1));
    }
    const expected = current.dataSync();
    run.final.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
  });

  test("a constant made from JavaScript before the first step (uploaded inside it) still makes a graph", async () => {
    await initBackend("tensorflow");
    const scale = tf.tensor2d([[2], [3], [4], [5]]); // values wait in JavaScript until first used
    const run = await tiny((x, w) => tf.mean(tf.mul(tf.square(tf.matMul(x, w)), scale)) as tf.Scalar);
    expect(run.state, run.modes.join("\n")).toBe("compiled");
    scale.dispose();
  });

  test("a random mask drawn in JavaScript makes two steps differ: op by op, with the reason", async () => {
    const run = await tiny((x, w) => tf.mean(tf.mul(tf.square(tf.matMul(x, w)), tf.randomUniform([x.shape[0]!, 1]))) as tf.Scalar);
    expect(run.state).toBe("eager");
    expect(run.modes[0]).toMatch(/op by op: two steps ran different ops or constants/);
  });

  test("a value read back mid-step: op by op, with the reason", async () => {
    const run = await tiny((x, w) => {
      const y = tf.matMul(x, w);
      return (y.dataSync()[0]! > 100 ? tf.sum(y) : tf.mean(tf.square(y))) as tf.Scalar;
    });
    expect(run.state).toBe("eager");
    expect(run.modes[0]).toMatch(/reads 1 value\(s\) back to JavaScript while it runs \(first in native-graph\.test\.ts:\d+:\d+\)/);
  });

  test("an input of another shape after the graph is built runs op by op for that step only", async () => {
    const run = await tiny(square, [4, 4, 4, 3, 4]);
    expect(run.state).toBe("compiled");
    const reference = await tiny(square, [4, 4, 4, 3, 4], false);
    run.losses.forEach((l, i) => expect(l).toBeCloseTo(reference.losses[i]!, 5));
    run.final.forEach((v, i) => expect(v).toBeCloseTo(reference.final[i]!, 5));
  });

  test("expandDims (tfjs-node sends it without type attributes) becomes part of a graph", async () => {
    const run = await tiny((x, w) => tf.mean(tf.square(tf.expandDims(tf.matMul(x, w), 1))) as tf.Scalar);
    expect(run.modes.join("\n")).toMatch(/runs as one graph/);
    const reference = await tiny((x, w) => tf.mean(tf.square(tf.expandDims(tf.matMul(x, w), 1))) as tf.Scalar, [4, 4, 4, 4], false);
    run.final.forEach((v, i) => expect(v).toBeCloseTo(reference.final[i]!, 5));
  });

  test("one tensor given as two inputs: op by op, with the reason", async () => {
    await initBackend("tensorflow");
    const w = tf.variable(tf.scalar(1), true, `w_alias_${Math.random()}`);
    const modes: string[] = [];
    const step = scalarStep((inputs) => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.add(inputs["a"]!, inputs["b"]!), w)) as tf.Scalar, [w]);
      w.assign(tf.sub(w, tf.mul(Object.values(grads)[0]!, 0.1)));
      return value;
    }, (line) => modes.push(line));
    const x = tf.tensor1d([1, 2]);
    for (let i = 0; i < 3; i++) step.run({ a: x, b: x }, {}).dispose();
    expect(step.state).toBe("eager");
    expect(modes[0]).toMatch(/input:a and input:b are the same tensor/);
    step.dispose();
    tf.dispose([x, w]);
  });

  test("a graph run that fails on bad data fails op by op too: the error goes through, the graph stays", async () => {
    await initBackend("tensorflow");
    const table = tf.variable(tf.tensor2d([[1, 2], [3, 4], [5, 6]]), true, `table_${Math.random()}`);
    const modes: string[] = [];
    const step = scalarStep((inputs, scalars) => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.gather(table, inputs["ids"]!)) as tf.Scalar, [table]);
      table.assign(tf.sub(table, tf.mul(Object.values(grads)[0]!, scalars["lr"]!)));
      return value;
    }, (line) => modes.push(line));
    const lr = tf.scalar(0.1);
    const good = tf.tensor1d([0, 2], "int32");
    for (let i = 0; i < 3; i++) step.run({ ids: good }, { lr }).dispose();
    expect(step.state).toBe("compiled");
    const before = table.dataSync().slice();
    const bad = tf.tensor1d([0, 7], "int32");
    expect(() => step.run({ ids: bad }, { lr })).toThrow(/indices\[1\] = 7 is not in \[0, 3\)/);
    expect(step.state).toBe("compiled");
    expect(Array.from(table.dataSync())).toEqual(Array.from(before));
    step.run({ ids: good }, { lr }).dispose();
    expect(Array.from(table.dataSync())).not.toEqual(Array.from(before));
    step.dispose();
    expect(step.state).toBe("eager");
    tf.dispose([lr, good, bad, table]);
  });

  test("a forward-only function with several outputs (an evaluation batch): graph outputs equal eager ones", async () => {
    await initBackend("tensorflow");
    const w = tf.variable(tf.tensor2d([[0.5, 1], [-0.25, 2], [1, -1]]), true, `w_eval_${Math.random()}`);
    const body = (inputs: Readonly<Record<string, tf.Tensor>>) => {
      const y = tf.matMul(inputs["x"]!, w);
      return { total: tf.sum(y), best: tf.argMax(y, -1), hits: tf.sum(tf.cast(tf.equal(tf.argMax(y, -1), inputs["label"]!), "float32")) };
    };
    const fn = new NativeGraphFunction(body, { what: "evaluation batch" });
    for (const b of [5, 5, 5, 5, 2, 5]) {
      const inputs = { x: tf.tensor2d(Array.from({ length: b * 3 }, (_, i) => Math.sin(i * b)), [b, 3]), label: tf.tensor1d(Array.from({ length: b }, (_, i) => i % 2), "int32") };
      const got = fn.run(inputs);
      const want = tf.tidy(() => body(inputs));
      expect(Object.keys(got)).toEqual(["total", "best", "hits"]);
      for (const k of Object.keys(want)) expect(Array.from(got[k]!.dataSync()), k).toEqual(Array.from(want[k as keyof typeof want]!.dataSync()));
      tf.dispose([...Object.values(got), ...Object.values(want), ...Object.values(inputs)] as tf.Tensor[]);
    }
    expect(fn.state).toBe("compiled");
    fn.dispose();
    w.dispose();
  });

  test("GatherV2 without the host read still rejects an index out of range", async () => {
    await initBackend("tensorflow");
    const table = tf.tensor2d([[1, 2], [3, 4]]);
    expect(Array.from(tf.gather(table, tf.tensor1d([1, 0], "int32")).dataSync())).toEqual([3, 4, 1, 2]);
    expect(() => tf.gather(table, tf.tensor1d([2], "int32")).dataSync()).toThrow(/not in \[0, 2\)/);
    table.dispose();
  });
});
