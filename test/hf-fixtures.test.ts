// Every HF fixture end to end, on the cpu and the wasm backends: import (config + safetensors →
// model.vlm + weights.safetensors), compile the written spec, run one forward pass on the
// fixture's inputs (HF names and layouts), and compare every reference output within
// atol 1e-4 + rtol 1e-4 (the fixtures README's tolerance; torch itself is not bit-stable) and within
// 1e-4 absolute.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compileFile } from "../compiler/index.js";
import type { IRProgram } from "../compiler/ir.js";
import { initBackend } from "../runtime/backend.js";
import { importHf } from "../runtime/hf/importer.js";
import { runOnce } from "../runtime/hf/run.js";
import { readSafetensorsHeader } from "../runtime/io/safetensors.js";
import { readTensorJson } from "../runtime/io/tensor-json.js";
import { ATOL, compareTensors, ownFixtures, sharedFixtures, SHARED_FIXTURES, type Fixture } from "./hf-helpers.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-hf-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const shared = sharedFixtures();
// Without the shared dev fixtures (beside the repository), their cases show as one skipped test.
if (shared.length === 0) test.skip(`shared dev fixtures vit-dev and clip-dev: absent at ${SHARED_FIXTURES}`, () => {});
const fixtures = [...shared, ...ownFixtures()];

interface Imported {
  program: IRProgram;
  weights: string;
}
const imported = new Map<string, Imported>();

describe.each(fixtures)("$name", (fixture: Fixture) => {
  const out = join(work, fixture.name.replace(/[^A-Za-z0-9-]/g, "_"));

  test("imports, and the written spec compiles to exactly the converted tensors", () => {
    const result = importHf(fixture.model, out, fixture.textLength === undefined ? {} : { textLength: fixture.textLength });
    const compiled = compileFile(result.specFile);
    expect(compiled.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const program = compiled.program!;
    const header = readSafetensorsHeader(result.weightsFile);
    const written = [...header.tensors].map(([name, e]) => ({ name, shape: e.shape, dtype: e.dtype })).sort((a, b) => a.name.localeCompare(b.name));
    const expected = program.params.map((p) => ({ name: p.name, shape: p.shape, dtype: "F32" })).sort((a, b) => a.name.localeCompare(b.name));
    expect(written).toEqual(expected);
    imported.set(fixture.name, { program, weights: result.weightsFile });
  });

  for (const backend of ["cpu", "wasm"] as const) {
    describe(backend, () => {
      beforeAll(async () => {
        await initBackend(backend);
      });
      test(`reproduces every reference output within 1e-4 + 1e-4·|ref|`, async () => {
        const model = imported.get(fixture.name);
        expect(model, "the import step failed").toBeDefined();
        const outputs = await runOnce(model!.program, model!.weights, readTensorJson(fixture.inputs), fixture.inputs, { cacheDir: join(work, "cache") });
        const reference = readTensorJson(fixture.outputs);
        const report: string[] = [];
        for (const name of fixture.compare) {
          const ours = outputs.get(name);
          const ref = reference.get(name);
          expect(ours, `output ${name}`).toBeDefined();
          expect(ref, `reference ${name}`).toBeDefined();
          const { maxAbs, violations, shapeOk } = compareTensors(ours!, ref!);
          report.push(`${name} ${maxAbs.toExponential(2)}`);
          expect(shapeOk, `${name}: shape [${ours!.shape}] vs reference [${ref!.shape}]`).toBe(true);
          expect(violations, `${name}: ${violations} values beyond tolerance, max |diff| ${maxAbs}`).toBe(0);
          // And in absolute terms alone: every output within 1e-4 of the reference (float32).
          expect(maxAbs, `${name}: max |diff|`).toBeLessThanOrEqual(ATOL);
        }
        console.log(`hf max|diff| ${fixture.name} [${backend}]: ${report.join(", ")}`);
      });
    });
  }
});
