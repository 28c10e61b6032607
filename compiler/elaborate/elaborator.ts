// The elaborator: evaluates expressions, instantiates blocks and unrolls `repeat`, building the IR
// graph of one model. Scalar arithmetic happens at compile time; tensor expressions become nodes.
// Errors are recorded per statement (see errors.ts) so one run reports every independent problem.
import type { BinaryExpr, BlockDecl, CallExpr, Expr, InputDecl, ShapeExpr, Statement } from "../../grammar/ast.js";
import type { Diagnostic, DiagnosticNote } from "../diagnostics.js";
import type { AttrValue, IRModuleInfo, IRValueRef, Shape, Span, TrainConfig } from "../ir.js";
import { didYouMean } from "../suggest.js";
import { DiagnosticError, SilentFailure, fail, originNotes } from "./errors.js";
import { GraphBuilder, NodeLimitExceeded } from "./graph.js";
import type { CallArg } from "./ops.js";
import { PARAMETRISED, PRIMITIVES, buildElementwise, buildPrimitive } from "./ops.js";
import type { SetOverride } from "./overrides.js";
import type { GivenArg } from "./params.js";
import { baseOf, bindBlockArgs, coerceToType, effectiveParams, typeMismatch } from "./params.js";
import type { Scope } from "./scope.js";
import { VariableTable, claimModuleName, snakeCase } from "./scope.js";
import { formatShape } from "./shapes.js";
import { trainValue } from "./train.js";
import type { BlockRef, BlockValue, BoundArg, Origin, ReadTracker, TensorValue, Value } from "./values.js";
import { describeValue, exprText, valueText } from "./values.js";

/** Statements executed in total (repeat bodies count once per iteration): a guard against runaway unrolling. */
const MAX_STEPS = 2_000_000;

/** Blocks instantiated inside one another deeper than this are refused (the elaborator recurses). */
export const MAX_BLOCK_DEPTH = 256;

/** Nested --set overrides waiting for the block value they reach into, by top-level parameter. */
type NestedSets = Map<string, { rest: string[]; override: SetOverride; tracker: ReadTracker }[]>;

/** `extends` arguments waiting to become a base block's parameter defaults. */
type ExtendsDefaults = Map<string, { expr: Expr; outer: VariableTable; origin: Origin; tracker: ReadTracker; set?: SetOverride }>;

/** A variable table that sees `inner` first, then `outer` (a derived block's own parameters). */
function layered(inner: VariableTable, outer: VariableTable): VariableTable {
  const table = new VariableTable();
  for (const [k, v] of outer.values) table.values.set(k, v);
  for (const [k, v] of inner.values) table.values.set(k, v);
  for (const [k, t] of outer.trackers) table.trackers.set(k, t);
  for (const [k, t] of inner.trackers) table.trackers.set(k, t);
  return table;
}

export interface ElaboratedModel {
  inputs: IRValueRef[];
  outputs: IRValueRef[];
  loss: string | null;
  train: TrainConfig;
}

interface Frame {
  ref: BlockRef;
  span: Span;
}

export class Elaborator {
  readonly graph = new GraphBuilder();
  readonly diagnostics: Diagnostic[] = [];
  private readonly callStack: Frame[] = [];
  private readonly trackers = new Map<string, { tracker: ReadTracker; warning: Diagnostic }>();
  private readonly trainLayers: TrainConfig[] = [];
  private steps = 0;
  private model: ElaboratedModel = { inputs: [], outputs: [], loss: null, train: {} };

  constructor(private readonly blocks: ReadonlyMap<string, BlockRef>) {}

  // -------------------------------------------------------------------------------------------
  // The model
  // -------------------------------------------------------------------------------------------

  elaborateModel(ref: BlockRef, overrides: SetOverride[]): ElaboratedModel {
    try {
      const params = effectiveParams(ref, this.blocks);
      const sets: ExtendsDefaults = new Map();
      const nested: NestedSets = new Map();
      for (const ov of overrides) {
        const [head, ...rest] = ov.path as [string, ...string[]];
        const param = params.find((p) => p.decl.name.name === head);
        if (!param) {
          this.report(this.unknownTarget(ov, head, ref.decl.name.name, params.map((p) => p.decl.name.name)));
          continue;
        }
        const tracker = this.tracker(ov.span, {
          code: "W0501",
          severity: "warning",
          message: `${ov.text} never takes effect: model ${ref.decl.name.name} never reads '${ov.path.join(".")}'`,
          span: ov.span,
        });
        if (rest.length > 0) {
          if (!["block", "encoder", "projection", "connector"].includes(param.decl.type.name)) {
            this.report(this.diag("E0501", `${ov.text}: '${head}' is ${/^[aeiou]/.test(param.decl.type.name) ? "an" : "a"} ${param.decl.type.name} parameter, not a block, so it has no '${rest[0]}'`, ov.span, [
              { message: "declared here", span: param.decl.span },
            ]));
            continue;
          }
          const list = nested.get(head) ?? [];
          list.push({ rest, override: ov, tracker });
          nested.set(head, list);
          continue;
        }
        // Like an extends argument, a --set value is evaluated where the model's parameters are
        // visible (--set hidden=dim*2), and wins over every other default.
        const origin: Origin = { source: "set", text: ov.text, span: ov.span };
        sets.set(head, { expr: ov.expr ?? { kind: "StringLit", value: ov.rawValue, span: ov.valueSpan }, outer: new VariableTable(), origin, tracker, set: ov });
      }
      if (this.hasErrors()) return this.model;
      const info = this.graph.addModule({ path: "", kind: "model", block: ref.decl.name.name, args: {}, argSources: {}, span: ref.decl.span });
      this.callStack.push({ ref, span: ref.decl.name.span });
      const result = this.runBlock(ref, new Map(), nested, [], "", ref.decl.name.span, info, true, sets);
      this.callStack.pop();
      info.shape = firstShape(result);
      // Base train blocks first, derived ones override them key by key.
      for (const layer of [...this.trainLayers].reverse()) Object.assign(this.model.train, layer);
    } catch (err) {
      this.catchInto(err);
    }
    if (!this.hasErrors()) {
      for (const { tracker, warning } of this.trackers.values()) if (!tracker.read) this.diagnostics.push(warning);
    }
    return this.model;
  }

  private unknownTarget(ov: SetOverride, name: string, owner: string, known: string[]): Diagnostic {
    return this.diag("E0501", `unknown --set target '${ov.path.join(".")}': ${owner} has no parameter '${name}'`, ov.span, [], didYouMean(name, known) ?? `its parameters: ${known.join(", ") || "(none)"}`);
  }

  /** The value of an override for a parameter of `type`: a bare word given for a string is that string. */
  private overrideValue(ov: SetOverride, type: string, scope: Scope = this.globalScope()): Value {
    const origin = { source: "set" as const, text: ov.text, span: ov.span };
    if (type === "string" && (ov.expr === null || ov.expr.kind === "NameRef") && /^[A-Za-z0-9_.\-\/]+$/.test(ov.rawValue.trim())) {
      return { kind: "string", value: ov.rawValue.trim(), origin };
    }
    if (ov.expr === null) fail("E0503", `${ov.text}: the value '${ov.rawValue}' is not a .vlm expression`, ov.valueSpan, { hint: "quote block calls for the shell: --set connector='MlpProjector(hidden=128)'" });
    const value = this.evalExpr(ov.expr, scope);
    const withOrigin = { ...value, origin } as Value;
    return withOrigin;
  }

  private globalScope(): Scope {
    return { vars: new VariableTable(), module: "", prefix: "", usedNames: new Set(), tensors: false };
  }

  // -------------------------------------------------------------------------------------------
  // Blocks
  // -------------------------------------------------------------------------------------------

  /** Runs a block body with bound parameters and tensor inputs; returns its outputs in order. */
  private runBlock(ref: BlockRef, given: Map<string, BoundArg>, nested: NestedSets, tensorArgs: CallArg[], path: string, callSpan: Span, info: IRModuleInfo, isModel: boolean, sets: ExtendsDefaults = new Map()): Map<string, TensorValue> {
    const resolved = this.resolveParams(ref, given, nested, callSpan, info, sets, isModel);
    const decl = resolved.body.decl;
    const vars = resolved.vars;
    const scope: Scope = { vars, module: path, prefix: path ? path + "." : "", usedNames: new Set(), tensors: true };
    if (!isModel) this.bindInputs(decl, vars, scope, tensorArgs, callSpan);

    const outputs = new Map<string, TensorValue>();
    let failedOutputs = false;
    for (const stmt of decl.body) {
      if (!this.runStatement(stmt, scope, outputs, isModel)) failedOutputs ||= stmt.kind === "OutputStmt" || stmt.kind === "RepeatStmt";
    }
    if (isModel) {
      this.trainLayers.push(...resolved.trainLayers);
      this.trainLayers.push(this.evaluateTrain(decl, scope));
    }
    if (failedOutputs) throw new SilentFailure();
    if (outputs.size === 0 && !isModel) fail("E0213", `${decl.blockKind} ${decl.name.name} has no 'out' statement, so it produces nothing`, decl.name.span);
    return outputs;
  }

  /**
   * Evaluates the parameters of a block, following `extends` down to the block whose body runs.
   * `D extends Base(p = expr)` makes `expr` Base's default for `p`, evaluated where Base's earlier
   * parameters (and D's own) are visible; a call argument or --set still wins over it.
   * Returns the body's block, its variable table and (derived first) the derived `train` layers.
   */
  private resolveParams(ref: BlockRef, given: Map<string, BoundArg>, nested: NestedSets, callSpan: Span, info: IRModuleInfo | null, inherited: ExtendsDefaults, isModel: boolean): { body: BlockRef; vars: VariableTable; trainLayers: TrainConfig[] } {
    const decl = ref.decl;
    if (!decl.extends) return { body: ref, vars: this.evaluateParams(ref, given, nested, callSpan, info, inherited), trainLayers: [] };

    const ext = decl.extends;
    const base = baseOf(ref, this.blocks)!;
    for (const stmt of decl.body) {
      if (stmt.kind !== "TrainStmt") fail("E0208", `a derived ${decl.blockKind} may only add a 'train { }' block; ${decl.name.name} extends ${base.decl.name.name}`, stmt.span);
    }
    const isOwn = (name: string) => decl.params.some((p) => p.name.name === name);
    const ownVars = this.evaluateParams(ref, new Map([...given].filter(([name]) => isOwn(name))), nested, callSpan, info, inherited);
    const baseParams = effectiveParams(base, this.blocks);
    const defaults: ExtendsDefaults = new Map();
    for (const arg of ext.args) {
      const name = arg.name?.name;
      if (!name) fail("E0301", `extends arguments must be named: ${base.decl.name.name}(name = value)`, arg.span);
      if (!baseParams.some((p) => p.decl.name.name === name)) {
        fail("E0502", `${decl.name.name} extends ${base.decl.name.name}, which has no parameter '${name}'`, arg.name!.span, {
          hint: didYouMean(name, baseParams.map((p) => p.decl.name.name)),
        });
      }
      const text = `${decl.name.name} extends ${base.decl.name.name}(${name} = ${exprText(arg.value)})`;
      const tracker = this.tracker(arg.span, {
        code: "W0502",
        severity: "warning",
        message: `the override ${name} = ${exprText(arg.value)} in ${decl.name.name} never takes effect: ${base.decl.name.name} never reads '${name}'`,
        span: arg.span,
      });
      defaults.set(name, { expr: arg.value, outer: ownVars, origin: { source: "extends", text, span: arg.span }, tracker });
    }
    // Overrides from further up the chain win over this block's own extends arguments.
    const baseGiven = new Map([...given].filter(([name]) => !isOwn(name)));
    for (const [name, d] of inherited) {
      if (isOwn(name)) continue;
      // The extends argument it replaces is superseded, not ineffective: no warning for it.
      const shadowed = defaults.get(name);
      if (shadowed) shadowed.tracker.read = true;
      defaults.set(name, d);
    }
    for (const name of baseGiven.keys()) {
      const shadowed = defaults.get(name);
      if (shadowed) shadowed.tracker.read = true;
    }
    const below = this.resolveParams(base, baseGiven, nested, callSpan, info, defaults, isModel);
    const trainLayers: TrainConfig[] = [];
    if (isModel) {
      const ownScope: Scope = { vars: ownVars, module: "", prefix: "", usedNames: new Set(), tensors: false };
      const layer: TrainConfig = {};
      for (const stmt of decl.body) if (stmt.kind === "TrainStmt") Object.assign(layer, this.trainEntries(stmt, ownScope));
      trainLayers.push(layer);
    }
    return { body: below.body, vars: below.vars, trainLayers: [...trainLayers, ...below.trainLayers] };
  }

  /** Evaluates a block's own parameters in order (defaults may use earlier ones) into a fresh variable table. */
  private evaluateParams(ref: BlockRef, given: Map<string, BoundArg>, nested: NestedSets, callSpan: Span, info: IRModuleInfo | null, defaults: ExtendsDefaults): VariableTable {
    const vars = new VariableTable();
    const paramScope: Scope = { vars, module: "", prefix: "", usedNames: new Set(), tensors: false };
    for (const param of ref.decl.params) {
      const name = param.name.name;
      const arg = given.get(name);
      const override = defaults.get(name);
      let value: Value;
      let source: BoundArg["source"];
      if (arg) {
        value = arg.value;
        source = arg.source;
        if (arg.cell) vars.trackers.set(name, arg.cell);
      } else if (override) {
        // Evaluated where this block's earlier parameters and the derived block's own are visible.
        const scope: Scope = { ...paramScope, vars: layered(vars, override.outer) };
        const raw = override.set ? this.overrideValue(override.set, param.type.name, scope) : this.evalExpr(override.expr, scope);
        const coerced = coerceToType({ ...raw, origin: override.origin } as Value, param.type.name);
        if (!coerced) typeMismatch(`parameter '${name}' of ${ref.decl.name.name}`, param.type.name, { ...raw, origin: override.origin } as Value, override.expr.span, param.span);
        value = coerced;
        source = override.origin.source;
        vars.trackers.set(name, override.tracker);
      } else if (param.default) {
        const raw = this.evalExpr(param.default, paramScope);
        const coerced = coerceToType(raw, param.type.name);
        if (!coerced) typeMismatch(`parameter '${name}' of ${ref.decl.name.name}`, param.type.name, raw, param.default.span);
        value = coerced;
        source = "default";
      } else {
        fail("E0302", `${ref.decl.name.name} is missing its parameter '${name}' (${param.type.name}, no default)`, callSpan, {
          notes: [{ message: "declared here", span: param.span }],
        });
      }
      for (const { rest, override: ov, tracker } of nested.get(name) ?? []) {
        if (value.kind !== "block") fail("E0501", `${ov.text}: '${name}' holds ${describeValue(value)}, not a block`, ov.span);
        value = this.applyNested(value, rest, ov, tracker);
        source = "set";
      }
      vars.values.set(name, value);
      vars.params.add(name);
      if (info) {
        info.args[name] = attrValue(value);
        info.argSources[name] = source;
      }
    }
    return vars;
  }

  /** `--set vision.depth=2`: a copy of the block value `vision` with `depth` bound to 2. */
  private applyNested(target: BlockValue, path: string[], ov: SetOverride, tracker: ReadTracker): BlockValue {
    const [name, ...rest] = path as [string, ...string[]];
    const params = effectiveParams(target.ref, this.blocks);
    const param = params.find((p) => p.decl.name.name === name);
    if (!param) throw new DiagnosticError(this.unknownTarget(ov, name, target.ref.decl.name.name, params.map((p) => p.decl.name.name)));
    const args = new Map(target.args);
    if (rest.length === 0) {
      const raw = this.overrideValue(ov, param.decl.type.name);
      const value = coerceToType(raw, param.decl.type.name);
      if (!value) typeMismatch(`${ov.text}: parameter '${name}' of ${target.ref.decl.name.name}`, param.decl.type.name, raw, ov.valueSpan, param.decl.span);
      args.set(name, { value, source: "set", span: ov.valueSpan, origin: { source: "set", text: ov.text, span: ov.span }, cell: tracker });
    } else {
      const inner = target.args.get(name)?.value ?? this.paramValue(target, name, ov.span);
      if (inner.kind !== "block") fail("E0501", `${ov.text}: '${name}' holds ${describeValue(inner)}, not a block`, ov.span);
      args.set(name, { value: this.applyNested(inner, rest, ov, tracker), source: "set", span: ov.valueSpan });
    }
    return { ...target, args };
  }

  /** The value a block value gives to one of its parameters (given, extends or default): `vision.dim`. */
  private paramValue(block: BlockValue, name: string, span: Span): Value {
    const known = effectiveParams(block.ref, this.blocks).map((p) => p.decl.name.name);
    if (!known.includes(name)) fail("E0207", `${block.ref.decl.name.name} has no parameter '${name}'`, span, { hint: didYouMean(name, known) });
    const { vars } = this.resolveParams(block.ref, block.args, new Map(), span, null, new Map(), false);
    for (const tracker of vars.trackers.values()) tracker.read = true;
    return vars.values.get(name)!;
  }

  /** Matches the tensors a block is applied to against its `in` declarations. */
  private bindInputs(decl: BlockDecl, vars: VariableTable, scope: Scope, args: CallArg[], callSpan: Span): void {
    const inputs = decl.body.filter((s): s is InputDecl => s.kind === "InputDecl");
    const names = inputs.map((i) => i.name.name);
    const signature = `${decl.name.name} takes ${inputs.length} tensor input${inputs.length === 1 ? "" : "s"} (${names.join(", ")})`;
    const byInput = new Map<string, CallArg>();
    let position = 0;
    for (const arg of args) {
      const input = arg.name === null ? inputs[position++] : inputs.find((i) => i.name.name === arg.name);
      if (!input) {
        fail(arg.name === null ? "E0301" : "E0303", arg.name === null ? `${signature}, found ${args.length}` : `${decl.name.name} has no input named '${arg.name}'`, arg.name === null ? callSpan : arg.span, {
          notes: [{ message: "declared here", span: decl.name.span }],
          hint: arg.name === null ? undefined : didYouMean(arg.name, names),
        });
      }
      if (byInput.has(input.name.name)) fail("E0304", `input '${input.name.name}' of ${decl.name.name} is given more than once`, arg.span);
      byInput.set(input.name.name, arg);
    }
    for (const input of inputs) {
      const arg = byInput.get(input.name.name);
      if (!arg) fail("E0302", `${signature}, found ${args.length}: '${input.name.name}' is missing`, callSpan, { notes: [{ message: "declared here", span: input.span }] });
      if (arg.value.kind !== "tensor") {
        fail("E0305", `input '${input.name.name}' of ${decl.name.name} expects a tensor, found ${describeValue(arg.value)}`, arg.span, { notes: [{ message: "declared here", span: input.span }] });
      }
      const tensor = arg.value;
      const match = this.matchShape(input.shape, tensor.shape, scope);
      const wantInt = input.dtype?.name === "int";
      const dtypeOk = (tensor.dtype === "int32") === wantInt;
      if (!match.ok || !dtypeOk) {
        const expected = `${match.expected}${wantInt ? " int" : ""}`;
        const found = `${formatShape(tensor.shape)}${tensor.dtype === "int32" ? " int" : ""}`;
        fail("E0410", `${decl.name.name}: input '${input.name.name}' expects ${expected}, found ${found}`, arg.span, {
          notes: [...originNotes(...match.values), { message: `'${input.name.name}' declared here`, span: input.span }],
        });
      }
      vars.values.set(input.name.name, tensor);
    }
  }

  /** Matches a declared shape against an actual one, binding shape variables on first use. */
  private matchShape(shape: ShapeExpr, actual: Shape, scope: Scope): { ok: boolean; expected: string; values: Value[] } {
    const shown: string[] = [];
    const values: Value[] = [];
    let ok = shape.dims.length === actual.length;
    shape.dims.forEach((dimExpr, i) => {
      const have = actual[i];
      if (dimExpr.kind === "NameRef" && !scope.vars.values.has(dimExpr.name) && !scope.vars.poisoned.has(dimExpr.name)) {
        // A new shape variable: bound to what it meets (or shown by name when the rank is wrong).
        if (have !== undefined && ok) scope.vars.values.set(dimExpr.name, typeof have === "number" ? { kind: "int", value: have } : { kind: "sym", name: have });
        shown.push(dimExpr.name);
        return;
      }
      const value = this.evalExpr(dimExpr, scope);
      values.push(value);
      if (value.kind === "int") {
        shown.push(String(value.value));
        if (value.value !== have) ok = false;
      } else if (value.kind === "sym") {
        shown.push(value.name);
        if (value.name !== have) ok = false;
      } else {
        fail("E0305", `a shape dimension must be an int, found ${describeValue(value)}`, dimExpr.span, { notes: originNotes(value) });
      }
    });
    return { ok, expected: `[${shown.join(", ")}]`, values };
  }

  // -------------------------------------------------------------------------------------------
  // Statements
  // -------------------------------------------------------------------------------------------

  /** Runs one statement; false (after recording the diagnostic) when it failed. */
  private runStatement(stmt: Statement, scope: Scope, outputs: Map<string, TensorValue>, isModel: boolean): boolean {
    if (this.steps === MAX_STEPS) throw new SilentFailure(); // reported once, below
    if (++this.steps === MAX_STEPS) fail("E0408", `the model unrolls to more than ${MAX_STEPS} statements`, stmt.span, { hint: "check the repeat counts" });
    try {
      this.executeStatement(stmt, scope, outputs, isModel);
      return true;
    } catch (err) {
      if (err instanceof NodeLimitExceeded) throw err;
      if (stmt.kind === "AssignStmt") scope.vars.poisoned.add(stmt.target.name);
      if (stmt.kind === "OutputStmt" && stmt.name) scope.vars.poisoned.add(stmt.name.name);
      this.catchInto(err);
      return false;
    }
  }

  private executeStatement(stmt: Statement, scope: Scope, outputs: Map<string, TensorValue>, isModel: boolean): void {
    switch (stmt.kind) {
      case "InputDecl":
        if (isModel) this.declareModelInput(stmt, scope);
        return;
      case "AssignStmt": {
        const value = this.evalExpr(stmt.value, scope);
        scope.vars.poisoned.delete(stmt.target.name);
        scope.vars.values.set(stmt.target.name, value);
        return;
      }
      case "OutputStmt": {
        const name = stmt.name?.name ?? "output";
        if (outputs.has(name)) {
          fail("E0209", stmt.name ? `duplicate output '${name}'` : "a block has at most one unnamed 'out'; name the outputs (out logits = …)", stmt.name?.span ?? stmt.span);
        }
        const value = this.evalExpr(stmt.value, scope);
        if (value.kind !== "tensor") fail("E0305", `'out' expects a tensor, found ${describeValue(value)}`, stmt.value.span);
        if (stmt.shape) {
          const match = this.matchShape(stmt.shape, value.shape, scope);
          if (!match.ok) {
            fail("E0411", `output '${name}' has shape ${formatShape(value.shape)}, but its annotation says ${match.expected}`, stmt.shape.span, { notes: originNotes(...match.values) });
          }
        }
        outputs.set(name, value);
        // `out logits = …` also binds `logits`, so a later `loss` can use it.
        if (stmt.name) scope.vars.values.set(name, value);
        if (isModel) this.model.outputs.push({ name, node: value.node, shape: value.shape, dtype: value.dtype });
        return;
      }
      case "RepeatStmt": {
        const count = this.evalExpr(stmt.count, scope);
        if (count.kind !== "int" || count.value < 0) {
          fail("E0306", `repeat count must be a non-negative int, found ${describeValue(count)}`, stmt.count.span, { notes: originNotes(count) });
        }
        if (count.value > 100_000) fail("E0408", `repeat count ${count.value} is over the limit of 100000`, stmt.count.span, { notes: originNotes(count) });
        const name = claimModuleName(scope, stmt.name ? { name: stmt.name.name, span: stmt.name.span } : null, "layers").slice(scope.prefix.length);
        let ok = true;
        for (let i = 0; i < count.value && ok; i++) {
          const iteration: Scope = { ...scope, prefix: `${scope.prefix}${name}.${i}.`, usedNames: new Set() };
          for (const inner of stmt.body) {
            if (inner.kind === "InputDecl" || inner.kind === "TrainStmt" || inner.kind === "LossStmt") {
              fail("E0209", `'${inner.kind === "InputDecl" ? "in" : inner.kind === "TrainStmt" ? "train" : "loss"}' is not allowed inside repeat`, inner.span);
            }
            ok = this.runStatement(inner, iteration, outputs, isModel) && ok;
          }
        }
        if (!ok) throw new SilentFailure();
        return;
      }
      case "LossStmt": {
        if (!isModel) fail("E0209", "'loss' is only allowed in a model", stmt.span);
        if (this.model.loss !== null) fail("E0209", "a model has one 'loss'; add the terms together", stmt.span);
        const value = this.evalExpr(stmt.value, scope);
        if (value.kind !== "tensor" || value.shape.length !== 0) {
          fail("E0412", `loss must be a scalar tensor [], found ${describeValue(value)}`, stmt.value.span, { hint: "reduce it with a loss op such as cross_entropy(logits, label)" });
        }
        this.model.loss = value.node;
        return;
      }
      case "TrainStmt":
        if (!isModel) fail("E0209", "'train' is only allowed in a model", stmt.span);
        return;
    }
  }

  private declareModelInput(stmt: InputDecl, scope: Scope): void {
    const shape: Shape = [];
    stmt.shape.dims.forEach((dimExpr, i) => {
      if (dimExpr.kind === "NameRef" && !scope.vars.values.has(dimExpr.name)) {
        if (i !== 0) {
          fail("E0403", `model input '${stmt.name.name}': dimension '${dimExpr.name}' is not a parameter; only the first (batch) dimension may be symbolic`, dimExpr.span, {
            hint: `declare it as a model parameter, e.g. ${dimExpr.name.toLowerCase()}: int = 16`,
          });
        }
        scope.vars.values.set(dimExpr.name, { kind: "sym", name: dimExpr.name });
        shape.push(dimExpr.name);
        return;
      }
      const value = this.evalExpr(dimExpr, scope);
      if (value.kind === "sym" && i === 0) shape.push(value.name);
      else if (value.kind === "int" && value.value > 0) shape.push(value.value);
      else fail("E0407", `model input '${stmt.name.name}': dimension ${i + 1} must be a positive int, found ${describeValue(value)}`, dimExpr.span, { notes: originNotes(value) });
    });
    if (scope.vars.values.has(stmt.name.name) && !scope.vars.params.has(stmt.name.name)) fail("E0203", `duplicate input '${stmt.name.name}'`, stmt.name.span);
    if (scope.vars.params.has(stmt.name.name)) fail("E0203", `input '${stmt.name.name}' has the name of a parameter`, stmt.name.span);
    const dtype = stmt.dtype?.name === "int" ? "int32" : "float32";
    const tensor = this.graph.addNode("input", [], { name: stmt.name.name }, {}, shape, dtype, "", stmt.span);
    scope.vars.values.set(stmt.name.name, tensor);
    this.model.inputs.push({ name: stmt.name.name, node: tensor.node, shape, dtype });
  }

  private evaluateTrain(decl: BlockDecl, scope: Scope): TrainConfig {
    const config: TrainConfig = {};
    for (const stmt of decl.body) {
      if (stmt.kind !== "TrainStmt") continue;
      try {
        Object.assign(config, this.trainEntries(stmt, { ...scope, tensors: false }));
      } catch (err) {
        this.catchInto(err);
      }
    }
    return config;
  }

  private trainEntries(stmt: Extract<Statement, { kind: "TrainStmt" }>, scope: Scope): TrainConfig {
    const config: TrainConfig = {};
    for (const entry of stmt.entries) config[entry.key.name] = trainValue(entry.key.name, this.evalExpr(entry.value, scope), entry.value.span);
    return config;
  }

  // -------------------------------------------------------------------------------------------
  // Expressions
  // -------------------------------------------------------------------------------------------

  evalExpr(e: Expr, scope: Scope): Value {
    switch (e.kind) {
      case "NumberLit":
        return e.isInt ? { kind: "int", value: e.value } : { kind: "float", value: e.value };
      case "StringLit":
        return { kind: "string", value: e.value };
      case "BoolLit":
        return { kind: "bool", value: e.value };
      case "NameRef":
        return this.lookup(e.name, e.span, scope);
      case "ListExpr":
        return { kind: "list", items: e.items.map((item) => this.evalExpr(item, scope)) };
      case "MemberExpr":
        return this.member(this.evalExpr(e.object, scope), e.property.name, e.property.span);
      case "UnaryExpr": {
        if (e.op === "frozen") return this.frozen(e.operand, e.span, scope);
        const v = this.evalExpr(e.operand, scope);
        if (v.kind === "int" || v.kind === "float") return { ...v, value: -v.value };
        if (v.kind === "tensor") return this.graph.addNode("neg", [v], {}, {}, v.shape, v.dtype, scope.module, e.span);
        fail("E0305", `unary '-' expects a number or a tensor, found ${describeValue(v)}`, e.span);
      }
      case "BinaryExpr":
        return this.binary(e, scope);
      case "CallExpr":
        return this.call(e, scope);
    }
  }

  /**
   * `frozen e`: the parameters of the call e itself are not trainable — an op's own parameters, or
   * everything a block instantiates — while its arguments are elaborated as usual
   * (`frozen dense(vision(image), 4)` freezes the dense layer, not the encoder). A block value is
   * marked instead, so that it declares frozen parameters wherever it is applied
   * (`vision: encoder = frozen ViT()`).
   */
  private frozen(operand: Expr, span: Span, scope: Scope): Value {
    const before = this.graph.params.length;
    const v = operand.kind === "CallExpr" ? this.call(operand, scope, true) : this.evalExpr(operand, scope);
    if (v.kind === "block") return { ...v, frozen: true, text: `frozen ${v.text}` };
    if ((v.kind === "tensor" || v.kind === "outputs") && this.graph.params.length > before) return v;
    fail("E0305", `'frozen' expects a call that creates parameters or a block value, found ${v.kind === "tensor" ? "a tensor expression that creates none" : describeValue(v)}`, span, {
      hint: "freeze a layer or block call, e.g. frozen dense(x, 64) or frozen Mlp(64)(x)",
    });
  }

  private lookup(name: string, span: Span, scope: Scope): Value {
    if (scope.vars.poisoned.has(name)) throw new SilentFailure();
    const value = scope.vars.values.get(name);
    if (value) {
      const tracker = scope.vars.trackers.get(name);
      if (tracker) tracker.read = true;
      return value;
    }
    if (this.blocks.has(name) || name in PRIMITIVES) return { kind: "callable", name };
    const candidates = [...scope.vars.values.keys(), ...this.blocks.keys(), ...Object.keys(PRIMITIVES)];
    fail("E0201", `undefined name '${name}'`, span, { hint: didYouMean(name, candidates) });
  }

  private member(object: Value, name: string, span: Span): Value {
    if (object.kind === "outputs") {
      const field = object.fields.get(name);
      if (!field) fail("E0207", `the block result has no output '${name}'; it has ${[...object.fields.keys()].join(", ")}`, span, { hint: didYouMean(name, object.fields.keys()) });
      return field;
    }
    if (object.kind === "block") return this.paramValue(object, name, span);
    fail("E0207", `cannot read '.${name}' of ${describeValue(object)}`, span);
  }

  private binary(e: BinaryExpr, scope: Scope): Value {
    const left = this.evalExpr(e.left, scope);
    const right = this.evalExpr(e.right, scope);
    const isNum = (v: Value): v is Extract<Value, { kind: "int" | "float" }> => v.kind === "int" || v.kind === "float";
    const origin = ("origin" in left && left.origin) || ("origin" in right && right.origin) || undefined;
    if (isNum(left) && isNum(right)) {
      const a = left.value;
      const b = right.value;
      const bothInt = left.kind === "int" && right.kind === "int";
      const num = (value: number, asInt: boolean): Value => (asInt ? { kind: "int", value, origin } : { kind: "float", value, origin });
      if ((e.op === "/" || e.op === "//" || e.op === "%") && b === 0) {
        fail("E0405", `division by zero: ${exprText(e.left)} ${e.op} ${exprText(e.right)}`, e.span, { notes: originNotes(left, right) });
      }
      switch (e.op) {
        case "+": return num(a + b, bothInt);
        case "-": return num(a - b, bothInt);
        case "*": return num(a * b, bothInt);
        case "/": return num(a / b, false);
        case "//": return num(Math.floor(a / b), bothInt);
        case "%": return num(a - Math.floor(a / b) * b, bothInt);
        case "==": return { kind: "bool", value: a === b };
        case "!=": return { kind: "bool", value: a !== b };
        case "<": return { kind: "bool", value: a < b };
        case "<=": return { kind: "bool", value: a <= b };
        case ">": return { kind: "bool", value: a > b };
        case ">=": return { kind: "bool", value: a >= b };
      }
    }
    if ((e.op === "==" || e.op === "!=") && (left.kind === "string" || left.kind === "bool") && left.kind === right.kind) {
      const same = left.value === (right as typeof left).value;
      return { kind: "bool", value: e.op === "==" ? same : !same };
    }
    const arithmetic = { "+": "add", "-": "sub", "*": "mul", "/": "div" } as const;
    if ((left.kind === "tensor" || right.kind === "tensor") && e.op in arithmetic) {
      const toTensor = (v: Value): TensorValue => {
        if (v.kind === "tensor") return v;
        if (isNum(v)) return this.graph.addNode("const", [], { value: v.value }, {}, [], "float32", scope.module, e.span);
        fail("E0305", `'${e.op}' cannot combine ${describeValue(left)} with ${describeValue(right)}`, e.span);
      };
      const a = toTensor(left);
      const b = toTensor(right);
      return buildElementwise(arithmetic[e.op as keyof typeof arithmetic], a, b, { graph: this.graph, module: scope.module, span: e.span });
    }
    if (left.kind === "sym" || right.kind === "sym") {
      fail("E0402", `cannot compute with the symbolic dimension ${left.kind === "sym" ? left.name : (right as { name: string }).name}`, e.span);
    }
    fail("E0305", `'${e.op}' cannot combine ${describeValue(left)} with ${describeValue(right)}`, e.span, { notes: originNotes(left, right) });
  }

  private call(e: CallExpr, scope: Scope, frozen = false): Value {
    const callee = this.evalExpr(e.callee, scope);
    const calleeVar = e.callee.kind === "NameRef" && scope.vars.values.has(e.callee.name) ? e.callee.name : null;
    const args: CallArg[] = e.args.map((a) => ({ name: a.name?.name ?? null, value: this.evalExpr(a.value, scope), span: a.span }));
    const alias = e.alias ? { name: e.alias.name, span: e.alias.span } : null;

    if (callee.kind === "callable") {
      const ref = this.blocks.get(callee.name);
      if (ref) {
        if (ref.decl.blockKind === "model") fail("E0306", `model ${ref.decl.name.name} cannot be used inside another block`, e.callee.span);
        const params = effectiveParams(ref, this.blocks);
        const given: GivenArg[] = e.args.map((a, i) => ({ name: a.name?.name ?? null, nameSpan: a.name?.span, value: args[i]!.value, span: a.span, source: "call" }));
        const bound = bindBlockArgs(ref, params, given, e.span);
        return { kind: "block", ref, args: bound, text: exprText({ ...e, alias: null }), alias: alias?.name };
      }
      if (!scope.tensors) fail("E0307", `${callee.name}(…) creates a tensor, which a parameter value cannot hold`, e.span);
      const op = callee.name;
      const parametrised = PARAMETRISED.has(op);
      const module = parametrised ? claimModuleName(scope, alias, op) : scope.module;
      if (frozen) this.graph.frozenDepth++;
      let tensor: TensorValue;
      try {
        tensor = buildPrimitive(op, args, { graph: this.graph, module, span: e.span });
      } finally {
        if (frozen) this.graph.frozenDepth--;
      }
      if (parametrised) {
        const node = this.graph.nodes[this.graph.nodes.length - 1]!;
        const info = this.graph.addModule({ path: module, kind: "op", block: op, args: { ...node.attrs }, argSources: {}, span: e.span });
        info.shape = tensor.shape;
      }
      return tensor;
    }
    if (callee.kind === "block") {
      if (!scope.tensors) fail("E0307", `applying ${callee.ref.decl.name.name} to tensors is not allowed in a parameter value`, e.span);
      const name = alias ?? (callee.alias ? { name: callee.alias, span: e.callee.span } : null);
      const freeze = frozen || callee.frozen === true;
      if (freeze) this.graph.frozenDepth++;
      try {
        return this.instantiate(callee, args, name, calleeVar ?? snakeCase(callee.ref.decl.name.name), scope, e.span);
      } finally {
        if (freeze) this.graph.frozenDepth--;
      }
    }
    const hidden = e.callee.kind === "NameRef" && (this.blocks.has(e.callee.name) || e.callee.name in PRIMITIVES) ? e.callee.name : null;
    fail("E0308", `${describeValue(callee)} is not callable`, e.callee.span, {
      hint: hidden ? `the name '${hidden}' here is a parameter, input or local, which hides the block or op '${hidden}'; rename one of them` : "only ops, blocks and block values can be called",
    });
  }

  private instantiate(block: BlockValue, args: CallArg[], alias: { name: string; span: Span } | null, baseName: string, scope: Scope, span: Span): Value {
    const decl = block.ref.decl;
    const recursion = this.callStack.findIndex((f) => f.ref.decl === decl);
    if (recursion >= 0) {
      const chain = [...this.callStack.slice(recursion).map((f) => f.ref.decl.name.name), decl.name.name].join(" → ");
      fail("E0206", `recursive block: ${chain}`, span, { hint: "a block cannot instantiate itself; use repeat for stacks" });
    }
    if (this.callStack.length > MAX_BLOCK_DEPTH) {
      fail("E0408", `blocks are nested more than ${MAX_BLOCK_DEPTH} deep (${this.callStack[1]?.ref.decl.name.name ?? decl.name.name} → … → ${decl.name.name})`, span, {
        hint: "flatten chains of blocks that call one another",
      });
    }
    const path = claimModuleName(scope, alias, baseName);
    const info = this.graph.addModule({ path, kind: decl.blockKind as IRModuleInfo["kind"], block: decl.name.name, args: {}, argSources: {}, span });
    this.callStack.push({ ref: block.ref, span });
    try {
      const outputs = this.runBlock(block.ref, block.args, new Map(), args, path, span, info, false);
      info.shape = firstShape(outputs);
      if (outputs.size === 1) return [...outputs.values()][0]!;
      return { kind: "outputs", fields: outputs };
    } finally {
      this.callStack.pop();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Diagnostics
  // -------------------------------------------------------------------------------------------

  private diag(code: string, message: string, span: Span | undefined, notes: DiagnosticNote[] = [], hint?: string): Diagnostic {
    const d: Diagnostic = { code, severity: "error", message, span };
    if (notes.length) d.notes = notes;
    if (hint) d.hint = hint;
    return d;
  }

  private tracker(span: Span, warning: Diagnostic): ReadTracker {
    const key = `${span.file}:${span.line}:${span.col}`;
    let entry = this.trackers.get(key);
    if (!entry) {
      entry = { tracker: { read: false }, warning };
      this.trackers.set(key, entry);
    }
    return entry.tracker;
  }

  private report(d: Diagnostic): void {
    this.diagnostics.push(d);
  }

  private hasErrors(): boolean {
    return this.diagnostics.some((d) => d.severity === "error");
  }

  /** Records a diagnostic thrown by a check, with "in X, instantiated here" notes for nested blocks. */
  private catchInto(err: unknown): void {
    if (err instanceof SilentFailure) return;
    if (err instanceof NodeLimitExceeded) {
      this.report(this.diag("E0408", `the model has more than ${this.graph.nodes.length} nodes, the limit`, err.span, [], "check the repeat counts"));
      return;
    }
    if (!(err instanceof DiagnosticError)) throw err;
    const d = { ...err.diagnostic };
    const frames = this.callStack.slice(1).reverse().slice(0, 4);
    if (frames.length > 0) {
      d.notes = [...(d.notes ?? []), ...frames.map((f) => ({ message: `in ${f.ref.decl.blockKind} ${f.ref.decl.name.name}, instantiated here`, span: f.span }))];
    }
    const key = JSON.stringify([d.code, d.message, d.span]);
    if (!this.diagnostics.some((x) => JSON.stringify([x.code, x.message, x.span]) === key)) this.report(d);
  }
}

function firstShape(outputs: Map<string, TensorValue>): Shape {
  const first = outputs.values().next();
  return first.done ? [] : first.value.shape;
}

/** A parameter value as module metadata: scalars as JSON, a block as its call text. */
function attrValue(v: Value): AttrValue {
  switch (v.kind) {
    case "int":
    case "float":
    case "bool":
    case "string":
      return v.value;
    case "list":
      return v.items.map((i) => (i.kind === "int" || i.kind === "float" ? i.value : 0));
    default:
      return valueText(v);
  }
}
