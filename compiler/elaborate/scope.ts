// Name scopes during elaboration. A block instance has one table of variables (parameters, shape
// variables, tensors); a `repeat` iteration shares that table (so `x = f(x)` carries across
// iterations) but gets its own module-name prefix and its own automatic-name counters.
import type { Span } from "../ir.js";
import { fail } from "./errors.js";
import type { ReadTracker, Value } from "./values.js";

export class VariableTable {
  readonly values = new Map<string, Value>();
  /** Names whose defining statement failed: their uses fail silently. */
  readonly poisoned = new Set<string>();
  /** Parameters that came from an override: reading them marks the override as effective. */
  readonly trackers = new Map<string, ReadTracker>();
  /** Names that are block parameters (for diagnostics that say "parameter"). */
  readonly params = new Set<string>();
}

export interface Scope {
  vars: VariableTable;
  /** Path of the module that owns this scope ("" for the model). */
  module: string;
  /** Prefix for module names created here: "vision." or "vision.layers.2.". */
  prefix: string;
  /** Module names used in this scope (aliases and automatic names). */
  usedNames: Set<string>;
  /** Whether tensor-producing calls are allowed (false while evaluating parameter defaults). */
  tensors: boolean;
}

/** snake_case of a block or op name, for automatic module names (TransformerBlock → transformer_block). */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

/** Claims a module name in `scope`: the alias when given (must be unused), else `base`, `base_1`, … */
export function claimModuleName(scope: Scope, alias: { name: string; span: Span } | null, base: string): string {
  if (alias) {
    if (scope.usedNames.has(alias.name)) {
      fail("E0205", `duplicate module name '${alias.name}' in ${scope.module === "" ? "the model" : `'${scope.module}'`}`, alias.span, {
        hint: "give each call its own name with `as`",
      });
    }
    scope.usedNames.add(alias.name);
    return scope.prefix + alias.name;
  }
  for (let i = 0; ; i++) {
    const candidate = i === 0 ? base : `${base}_${i}`;
    if (!scope.usedNames.has(candidate)) {
      scope.usedNames.add(candidate);
      return scope.prefix + candidate;
    }
  }
}
