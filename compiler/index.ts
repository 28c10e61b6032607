// The compiler's front door: source text (or a file) in, a checked IR program and diagnostics out.
// Never throws for user input; every problem is a diagnostic in the result.
import { createHash } from "node:crypto";
import type { Diagnostic } from "./diagnostics.js";
import { hasErrors } from "./diagnostics.js";
import { Elaborator } from "./elaborate/elaborator.js";
import type { LoadedSources } from "./elaborate/loader.js";
import { loadSources } from "./elaborate/loader.js";
import { parseOverrides } from "./elaborate/overrides.js";
import { DiagnosticError } from "./elaborate/errors.js";
import { effectiveParams } from "./elaborate/params.js";
import { IR_SCHEMA } from "./ir.js";
import type { IRProgram } from "./ir.js";
import { countProgram } from "./passes/counts.js";
import { applyInitializer, type Initializer } from "./passes/initializer.js";
import { didYouMean } from "./suggest.js";
import type { BlockRef } from "./elaborate/values.js";

export interface CompileOptions {
  /** The model to compile; default: the first `model` declared in the entry file. */
  model?: string;
  /** `--set` overrides, each "name=value" or "block.param=value". */
  set?: string[];
}

export interface CompileResult {
  /** null when there are errors. */
  program: IRProgram | null;
  diagnostics: Diagnostic[];
  /** Every file read (and a virtual file per --set), for formatDiagnostics. */
  sources: Map<string, string>;
}

export function compileFile(file: string, opts: CompileOptions = {}): CompileResult {
  return guarded(() => compileLoaded(loadSources(file), opts));
}

/** Compiles `text` as if it were the file `file` (imports resolve relative to it). */
export function compileSource(text: string, file: string, opts: CompileOptions = {}): CompileResult {
  return guarded(() => compileLoaded(loadSources(file, text), opts));
}

/**
 * The last line of defence: a bug in the compiler (or a stack overflow on a pathological spec)
 * becomes an E0999 diagnostic instead of an exception, so the CLI never prints a stack trace.
 */
function guarded(compile: () => CompileResult): CompileResult {
  try {
    return compile();
  } catch (err) {
    const overflow = err instanceof RangeError && /call stack/i.test(err.message);
    const diagnostic: Diagnostic = overflow
      ? { code: "E0408", severity: "error", message: "the spec nests blocks too deeply to compile", hint: "flatten chains of blocks that call one another" }
      : { code: "E0999", severity: "error", message: `internal compiler error: ${err instanceof Error ? err.message : String(err)}`, hint: "this is a bug in vlmc; please report it with the spec" };
    return { program: null, diagnostics: [diagnostic], sources: new Map() };
  }
}

export interface ModelList {
  /** Models declared in the entry file, in order. */
  models: string[];
  /** Every block visible from the entry file, by name and kind. */
  blocks: { name: string; kind: string; file: string }[];
  /**
   * The parameters of each model (inherited ones included), so a trainer can tell whether a model
   * declares a data-bound parameter (image_size, channels, classes) before passing --set for it.
   */
  modelParams: Record<string, { name: string; type: string }[]>;
  diagnostics: Diagnostic[];
  sources: Map<string, string>;
}

/** Loads and parses a file and its imports without elaborating: what it declares. */
export function listModels(file: string): ModelList {
  const loaded = loadSources(file);
  const models = loaded.entry ? loaded.entry.blocks.filter((b) => b.blockKind === "model").map((b) => b.name.name) : [];
  const blocks = [...loaded.blocks.values()].map((b) => ({ name: b.decl.name.name, kind: b.decl.blockKind, file: b.file }));
  const modelParams: ModelList["modelParams"] = {};
  const diagnostics = [...loaded.diagnostics];
  for (const name of models) {
    try {
      modelParams[name] = effectiveParams(loaded.blocks.get(name)!, loaded.blocks).map((p) => ({ name: p.decl.name.name, type: p.decl.type.name }));
    } catch (err) {
      // A broken `extends` chain: reported as a diagnostic, the model listed without parameters.
      if (!(err instanceof DiagnosticError)) throw err;
      diagnostics.push(err.diagnostic);
      modelParams[name] = [];
    }
  }
  return { models, blocks, modelParams, diagnostics, sources: loaded.sources };
}

function compileLoaded(loaded: LoadedSources, opts: CompileOptions): CompileResult {
  const sources = loaded.sources;
  const diagnostics = [...loaded.diagnostics];
  const { overrides, diagnostics: setDiagnostics } = parseOverrides(opts.set ?? [], sources);
  diagnostics.push(...setDiagnostics);
  if (hasErrors(diagnostics) || !loaded.entry) return { program: null, diagnostics, sources };

  const entryFile = loaded.files[0]!;
  const chosen = chooseModel(loaded, opts.model, entryFile);
  if ("diagnostic" in chosen) return { program: null, diagnostics: [...diagnostics, chosen.diagnostic], sources };

  const elaborator = new Elaborator(loaded.blocks);
  const model = elaborator.elaborateModel(chosen.ref, overrides);
  diagnostics.push(...elaborator.diagnostics);
  if (hasErrors(diagnostics)) return { program: null, diagnostics, sources };

  const { graph } = elaborator;
  const params = applyInitializer(graph.params, graph.modules, (model.train["initializer"] as Initializer | undefined) ?? "glorot");
  const counts = countProgram(graph.nodes, params, graph.modules);
  const program: IRProgram = {
    schema: IR_SCHEMA,
    model: chosen.ref.decl.name.name,
    source: { file: entryFile, hash: sourceHash(loaded, opts) },
    inputs: model.inputs,
    outputs: model.outputs,
    loss: model.loss,
    params,
    nodes: graph.nodes,
    modules: graph.modules,
    train: model.train,
    totals: { params: counts.params, trainableParams: counts.trainableParams, flops: counts.flops },
  };
  return { program, diagnostics, sources };
}

function chooseModel(loaded: LoadedSources, requested: string | undefined, entryFile: string): { ref: BlockRef } | { diagnostic: Diagnostic } {
  const models = [...loaded.blocks.values()].filter((b) => b.decl.blockKind === "model");
  const list = models.map((m) => m.decl.name.name).join(", ") || "(none)";
  if (requested !== undefined) {
    const ref = loaded.blocks.get(requested);
    if (!ref) {
      const hint = didYouMean(requested, models.map((m) => m.decl.name.name));
      return { diagnostic: { code: "E0210", severity: "error", message: `no model named '${requested}'; the models are: ${list}`, ...(hint ? { hint } : {}) } as Diagnostic };
    }
    if (ref.decl.blockKind !== "model") {
      return {
        diagnostic: {
          code: "E0211",
          severity: "error",
          message: `'${requested}' is ${/^[aeiou]/.test(ref.decl.blockKind) ? "an" : "a"} ${ref.decl.blockKind}, not a model; the models are: ${list}`,
          span: ref.decl.name.span,
        } as Diagnostic,
      };
    }
    return { ref };
  }
  const first = loaded.entry!.blocks.find((b) => b.blockKind === "model");
  if (!first) {
    return {
      diagnostic: {
        code: "E0212",
        severity: "error",
        message: `${entryFile} declares no model${models.length ? `; imported models: ${list} (choose one with --model)` : ""}`,
        hint: "a model is declared with `model Name(...) { in …; out …; loss … }`",
      } as Diagnostic,
    };
  }
  return { ref: loaded.blocks.get(first.name.name) ?? { decl: first, file: entryFile } };
}

/** sha256 over the files read, in load order with their names, then the model choice and overrides. */
function sourceHash(loaded: LoadedSources, opts: CompileOptions): string {
  const hash = createHash("sha256");
  for (const file of loaded.files) hash.update(`file\0${file}\0${loaded.sources.get(file) ?? ""}\0`);
  if (opts.model) hash.update(`model\0${opts.model}\0`);
  for (const set of opts.set ?? []) hash.update(`set\0${set}\0`);
  return hash.digest("hex");
}

