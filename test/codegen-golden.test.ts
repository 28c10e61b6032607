// Golden generated code: the TypeScript module emitted for each hand-written IR fixture and each
// model of each bundled spec must equal test/golden/ts/<name>.ts byte for byte. After an intended
// change (to the code generator or a spec), review the diff and regenerate with:
//   UPDATE_GOLDEN=1 npx vitest run test/codegen-golden.test.ts
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emitTypeScript } from "../compiler/codegen/index.js";
import { bundledSpecPrograms, fixtureNames, fixtureProgram } from "./fixtures/ir/programs.js";

const UPDATE = process.env["UPDATE_GOLDEN"] === "1";
const GOLDEN_DIR = "test/golden/ts";

function checkGolden(name: string, code: string): void {
  const file = join(GOLDEN_DIR, `${name}.ts`);
  if (UPDATE || !existsSync(file)) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, code);
    if (!UPDATE) throw new Error(`${file} did not exist and was written: review it and re-run`);
  }
  expect(code, `${file} differs; after an intended change run UPDATE_GOLDEN=1 npx vitest run test/codegen-golden.test.ts`).toBe(
    readFileSync(file, "utf8"),
  );
}

describe("generated TypeScript matches the goldens", () => {
  for (const name of fixtureNames()) {
    it(`fixture ${name}`, () => {
      const program = fixtureProgram(name);
      const code = emitTypeScript(program);
      checkGolden(`fixture-${name}`, code);
      // Deterministic: a second emission is byte-identical.
      expect(emitTypeScript(program)).toBe(code);
    });
  }

  it("bundled specs, and no golden left over from a model that no longer exists", () => {
    const programs = bundledSpecPrograms();
    expect(programs.map((p) => p.name)).toContain("convnet");
    const expected = new Set([...fixtureNames().map((n) => `fixture-${n}.ts`), ...programs.map((p) => `spec-${p.name}.ts`)]);
    for (const { name, program } of programs) checkGolden(`spec-${name}`, emitTypeScript(program));
    const stale = readdirSync(GOLDEN_DIR).filter((f) => !expected.has(f));
    if (UPDATE) for (const f of stale) rmSync(join(GOLDEN_DIR, f));
    else expect(stale, "stale goldens (regenerate with UPDATE_GOLDEN=1)").toEqual([]);
  });
});
