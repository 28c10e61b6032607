// Loads tfjs-core's own gradient functions, without which tf.variableGrads fails ("gradient function
// not found for Mean").
//
// Why this is needed: @tensorflow/tfjs-core registers no gradients by itself; the union package
// @tensorflow/tfjs does it by importing "@tensorflow/tfjs-core/dist/register_all_gradients". That file
// exists only as ES module source with extensionless relative imports, in a package Node treats as
// CommonJS, so Node cannot import it as shipped. A tiny module loader hook (scoped to files under
// tfjs-core/dist/, registered once) adds the ".js" and marks those files as ES modules. The gradient
// functions then register into tfjs's global gradient registry and run on the one shared engine
// (tfjs keeps both in a global namespace, so the ES copy of its modules talks to the same engine).
import * as tf from "@tensorflow/tfjs-core";
import * as nodeModule from "node:module";

const LOADER_HOOK = `
const DIST = "/@tensorflow/tfjs-core/dist/";
export async function resolve(specifier, context, next) {
  const parent = context.parentURL ?? "";
  if (parent.includes(DIST) && specifier.startsWith(".") && !specifier.endsWith(".js")) {
    try { return await next(specifier + ".js", context); }
    catch { return next(specifier + "/index.js", context); }
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.includes(DIST) && url.endsWith(".js") && !url.includes("/tf-core.")) {
    return next(url, { ...context, format: "module" });
  }
  return next(url, context);
}`;

let loading: Promise<void> | undefined;

/** Registers every stock tfjs gradient. Idempotent; a no-op when someone (e.g. @tensorflow/tfjs) already did. */
export function ensureTfjsGradients(): Promise<void> {
  loading ??= (async () => {
    if (tf.getGradient("Mean") !== undefined) return;
    // module.register arrived in Node 20.6; package.json asks for Node >= 20.
    const register = (nodeModule as { register?: typeof nodeModule.register }).register;
    if (typeof register !== "function") {
      throw new Error(`Node ${process.versions.node} cannot load tfjs-core's gradients (module.register needs Node >= 20.6): please upgrade Node`);
    }
    register("data:text/javascript," + encodeURIComponent(LOADER_HOOK));
    try {
      await import("@tensorflow/tfjs-core/dist/register_all_gradients.js" as string);
    } catch (err) {
      loading = undefined;
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`could not load tfjs-core's gradient functions (training needs them): ${why}`);
    }
    if (tf.getGradient("Mean") === undefined) {
      throw new Error("tfjs-core's gradient functions loaded but did not register on vlmc's tfjs-core");
    }
  })();
  return loading;
}
