// Backend selection: explicit requests, auto's fallback when native TensorFlow is absent (the normal
// case here), idempotence, and the error a user sees for a backend that cannot start. Native
// TensorFlow is never really loaded: a fake loader stands in for it, so these tests give the same
// answers on a machine where `vlmc setup native` has been run and on CI, where it never is.
import { afterEach, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BackendError, defaultNativeLoader, initBackend, vlmcCoreEntry, wasmBinaryDir, type NativeLoader } from "../runtime/backend.js";
import { MANIFEST_FILE, nativeEntry } from "../runtime/native/location.js";

/** No native TensorFlow anywhere: what CI sees. */
const absent: NativeLoader = {
  candidates: () => [],
  coreOf: () => vlmcCoreEntry(),
  load: async () => {
    throw new Error("never loaded");
  },
};

/** One native candidate whose loading does `load` (a fake: nothing native is imported). */
function fakeNative(load: () => Promise<void>, core: () => string = vlmcCoreEntry): NativeLoader & { loads: string[] } {
  const loads: string[] = [];
  return {
    loads,
    candidates: () => [
      { label: "the build of `vlmc setup native` (fake)", entry: "/fake/.vlmc-native/node_modules/@tensorflow/tfjs-node/dist/index.js", fromSetup: true },
      { label: "a second candidate", entry: "/fake/second.js" },
    ],
    coreOf: () => core(),
    load: async (entry) => {
      loads.push(entry);
      await load();
    },
  };
}

/** What a working binding does on import: register the backend "tensorflow" on vlmc's tfjs-core. */
async function registerFakeTensorflow(): Promise<void> {
  tf.registerBackend("tensorflow", () => new MathBackendCPU(), 0);
}

describe("initBackend", () => {
  const envBefore = process.env.VLMC_BACKEND;
  afterEach(() => {
    if (envBefore === undefined) delete process.env.VLMC_BACKEND;
    else process.env.VLMC_BACKEND = envBefore;
  });

  test("cpu and wasm on request, each with a reason", async () => {
    const cpu = await initBackend("cpu");
    expect(cpu.name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    const wasm = await initBackend("wasm");
    expect(wasm).toEqual({ name: "wasm", reason: "requested" });
    expect(tf.getBackend()).toBe("wasm");
  });

  test("auto falls back to wasm and says native TensorFlow is not set up", async () => {
    const choice = await initBackend("auto", { native: absent });
    expect(choice.name).toBe("wasm");
    expect(choice.reason).toMatch(/^auto: native TensorFlow is not set up \(no @tensorflow\/tfjs-node, no `vlmc setup native` build\); using wasm/);
  });

  test("is idempotent", async () => {
    const first = await initBackend("wasm");
    const second = await initBackend("wasm");
    expect(second).toBe(first);
    expect(tf.getBackend()).toBe("wasm");
  });

  test("an explicit tensorflow request fails with a message that says what to do", async () => {
    await expect(initBackend("tensorflow", { native: absent })).rejects.toThrow(BackendError);
    await expect(initBackend("tensorflow", { native: absent })).rejects.toThrow(/not set up.*; run `vlmc setup native` .*, or use --backend wasm/);
  });

  test("VLMC_BACKEND is the default request, and a bad value is named", async () => {
    process.env.VLMC_BACKEND = "cpu";
    expect((await initBackend()).name).toBe("cpu");
    process.env.VLMC_BACKEND = "gpu";
    await expect(initBackend()).rejects.toThrow(/VLMC_BACKEND is 'gpu'; expected one of auto, tensorflow, wasm, cpu/);
  });

  test("gradients are registered (tfjs-core ships none by itself)", async () => {
    await initBackend("cpu");
    for (const kernel of ["Mean", "Conv2D", "BatchMatMul", "GatherV2", "Softmax", "Erf"]) expect(tf.getGradient(kernel), kernel).toBeDefined();
  });
});

describe("native TensorFlow, through a fake loader", () => {
  afterEach(async () => {
    if (tf.engine().registryFactory["tensorflow"] !== undefined) tf.removeBackend("tensorflow");
    await initBackend("wasm");
  });

  test("auto picks it when the binding loads and registers on vlmc's tfjs-core, importing only the first candidate", async () => {
    const native = fakeNative(registerFakeTensorflow);
    const choice = await initBackend("auto", { native });
    expect(choice).toEqual({ name: "tensorflow", reason: "auto: native TensorFlow from the build of `vlmc setup native` (fake)" });
    expect(tf.getBackend()).toBe("tensorflow");
    expect(native.loads).toEqual(["/fake/.vlmc-native/node_modules/@tensorflow/tfjs-node/dist/index.js"]);
  });

  test("an explicit request gets it too, and a later request finds it already loaded", async () => {
    expect((await initBackend("tensorflow", { native: fakeNative(registerFakeTensorflow) })).name).toBe("tensorflow");
    await initBackend("wasm");
    const again = fakeNative(registerFakeTensorflow);
    expect(await initBackend("tensorflow", { native: again })).toEqual({ name: "tensorflow", reason: "requested; native TensorFlow from an already loaded native binding" });
    expect(again.loads).toEqual([]);
  });

  test("a binding that fails to load: auto falls back to wasm quietly, saying why; an explicit request says to rebuild", async () => {
    const broken = () => fakeNative(async () => {
      throw new Error("libtensorflow_cc.so.2: cannot open shared object file: No such file or directory\n    at Module._extensions");
    });
    const choice = await initBackend("auto", { native: broken() });
    expect(choice.name).toBe("wasm");
    expect(choice.reason).toBe(
      "auto: the build of `vlmc setup native` (fake) failed to load: libtensorflow_cc.so.2: cannot open shared object file: No such file or directory; " +
        "using wasm (XNNPACK, with vlmc's gradient lowerings)",
    );
    expect(tf.getBackend()).toBe("wasm");
    await expect(initBackend("tensorflow", { native: broken() })).rejects.toThrow(/failed to load: .*; re-run `vlmc setup native --force`, or use --backend wasm$/);
  });

  test("a broken npm-installed tfjs-node is named as the thing to repair", async () => {
    const npmInstalled: NativeLoader = {
      candidates: () => [{ label: "@tensorflow/tfjs-node", entry: "/fake/node_modules/@tensorflow/tfjs-node/dist/index.js" }],
      coreOf: () => vlmcCoreEntry(),
      load: async () => {
        throw new Error("The Node.js native addon module (tfjs_binding.node) can not be found");
      },
    };
    await expect(initBackend("tensorflow", { native: npmInstalled })).rejects.toThrow(
      "--backend tensorflow: @tensorflow/tfjs-node failed to load: The Node.js native addon module (tfjs_binding.node) can not be found; reinstall or remove @tensorflow/tfjs-node, or use --backend wasm",
    );
  });

  test("a binding on another copy of tfjs-core is refused before it is imported", async () => {
    const native = fakeNative(registerFakeTensorflow, () => "/elsewhere/node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js");
    const choice = await initBackend("auto", { native });
    expect(choice.name).toBe("wasm");
    expect(choice.reason).toMatch(/uses its own copy of @tensorflow\/tfjs-core \(\/elsewhere\/.*\), not vlmc's \(version 4\.22\.0\)/);
    expect(native.loads).toEqual([]);
  });

  test("a module that loads but registers no backend is reported", async () => {
    const choice = await initBackend("auto", { native: fakeNative(async () => {}) });
    expect(choice.name).toBe("wasm");
    expect(choice.reason).toMatch(/loaded but did not register the 'tensorflow' backend on vlmc's tfjs-core/);
  });
});

describe("the default loader finds the build of `vlmc setup native`", () => {
  const before = process.env.VLMC_NATIVE_DIR;
  afterEach(() => {
    if (before === undefined) delete process.env.VLMC_NATIVE_DIR;
    else process.env.VLMC_NATIVE_DIR = before;
  });

  test("only once its manifest is written (a half-built directory is not a candidate)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "vlmc-native-dir-"));
    try {
      process.env.VLMC_NATIVE_DIR = dir;
      const fromSetup = () => defaultNativeLoader.candidates().filter((c) => c.label.includes("vlmc setup native"));
      mkdirSync(path.join(dir, "node_modules"));
      expect(fromSetup()).toEqual([]);
      writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify({ tfjs_node: "4.22.0" }));
      expect(fromSetup()).toEqual([{ label: `the build of \`vlmc setup native\` (${dir})`, entry: nativeEntry(dir), fromSetup: true }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("the wasm binaries are found from the installed package", () => {
  expect(existsSync(path.join(wasmBinaryDir(), "tfjs-backend-wasm-simd.wasm"))).toBe(true);
});
