// The variants of a sweep, as the user writes them. A variant is a list of parts separated by `;`:
//   a spec file        specs/kosmos.vlm          (ends in .vlm)
//   a model name       KosmosResampler           (a bare identifier)
//   an override        connector=Resampler(queries = 8)   (as `--set` takes it)
// Parts not given come from the sweep's defaults (the diff's first spec, its --model, its --set).
// `;` inside parentheses, brackets or strings belongs to the override, not the list.

export interface Variant {
  /** How tables and charts name the variant: the text the user gave, or "A: …"/"B: …". */
  name: string;
  file: string;
  model: string | undefined;
  set: string[];
}

export interface VariantDefaults {
  file: string;
  model: string | undefined;
  set: string[];
}

/** A variant that cannot be understood; the message names the variant and the part. */
export class VariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VariantError";
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseVariant(text: string, defaults: VariantDefaults): Variant {
  const parts = splitTopLevel(text, ";").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 0) throw new VariantError(`variant ${JSON.stringify(text)} is empty: give overrides (connector=Resampler()), a model name or a .vlm file`);
  let file = defaults.file;
  let model = defaults.model;
  const set = [...defaults.set];
  let sawFile = false;
  let sawModel = false;
  for (const part of parts) {
    if (part.endsWith(".vlm")) {
      if (sawFile) throw new VariantError(`variant ${JSON.stringify(text)} names two spec files`);
      file = part;
      sawFile = true;
      // A different file has different models: the default model belongs to the default file.
      if (!sawModel) model = undefined;
    } else if (IDENTIFIER.test(part)) {
      if (sawModel) throw new VariantError(`variant ${JSON.stringify(text)} names two models`);
      model = part;
      sawModel = true;
    } else if (/^[A-Za-z_][A-Za-z0-9_.]*\s*=/.test(part)) {
      set.push(part);
    } else {
      throw new VariantError(
        `variant ${JSON.stringify(text)}: cannot read ${JSON.stringify(part)}; expected an override (name=value), a model name, or a .vlm file`,
      );
    }
  }
  return { name: text.trim(), file, model, set };
}

/** Parses every variant and checks that their names are distinct (they name run folders and chart series). */
export function parseVariants(texts: string[], defaults: VariantDefaults): Variant[] {
  const variants = texts.map((t) => parseVariant(t, defaults));
  const seen = new Set<string>();
  for (const v of variants) {
    if (seen.has(v.name)) throw new VariantError(`variant ${JSON.stringify(v.name)} is given twice`);
    seen.add(v.name);
  }
  return variants;
}

/** Splits on `sep` where it is not inside (), [], {} or a double-quoted string. */
export function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "(" || ch === "[" || ch === "{") depth++;
    else if (ch === ")" || ch === "]" || ch === "}") depth = Math.max(0, depth - 1);
    else if (ch === sep && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}
