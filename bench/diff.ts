// Structural diff throughput: compile two bundled variants and diff them, as `vlmc diff` does
// (file reads, parse, elaborate, counts, diff; no report). Medians over several runs after warm-up.
// Target (issue 6): a structural diff of two bundled variants in under 200 ms, compiles included.
//
//   npx tsc -p bench/tsconfig.json && node dist/bench/diff.js [--runs 15]
//
// (run from the repository root so the spec paths resolve.)
import { performance } from "node:perf_hooks";
import { diffPrograms } from "../compiler/diff/index.js";
import { compileFile, type CompileOptions } from "../compiler/index.js";

interface Pair {
  name: string;
  file: string;
  a: CompileOptions;
  b: CompileOptions;
}

const pairs: Pair[] = [
  { name: "Clip vs ClipMlp", file: "specs/clip.vlm", a: { model: "Clip" }, b: { model: "ClipMlp" } },
  { name: "Clip vs ClipViT", file: "specs/clip.vlm", a: { model: "Clip" }, b: { model: "ClipViT" } },
  { name: "Kosmos vs KosmosResampler", file: "specs/kosmos.vlm", a: { model: "Kosmos" }, b: { model: "KosmosResampler" } },
  {
    name: "Kosmos, --b projector=Resampler(queries=8)",
    file: "specs/kosmos.vlm",
    a: {},
    b: { set: ["projector=Resampler(dim=64, out_dim=width, queries=8)"] },
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function once(pair: Pair): { total: number; diff: number } {
  const start = performance.now();
  const a = compileFile(pair.file, pair.a).program;
  const b = compileFile(pair.file, pair.b).program;
  if (!a || !b) throw new Error(`${pair.name}: a variant does not compile`);
  const beforeDiff = performance.now();
  diffPrograms(a, b);
  const end = performance.now();
  return { total: end - start, diff: end - beforeDiff };
}

const runsFlag = process.argv.indexOf("--runs");
const runs = runsFlag >= 0 ? Number(process.argv[runsFlag + 1]) : 15;
console.log(`vlmc diff: compile both variants + structural diff; median of ${runs} runs after 3 warm-up runs (target < 200 ms)`);
for (const pair of pairs) {
  for (let i = 0; i < 3; i++) once(pair);
  const samples = Array.from({ length: runs }, () => once(pair));
  const total = median(samples.map((s) => s.total));
  const diff = median(samples.map((s) => s.diff));
  console.log(`${pair.name.padEnd(44)} ${total.toFixed(1).padStart(7)} ms total  (diff alone ${diff.toFixed(2)} ms)  ${total < 200 ? "ok" : "OVER TARGET"}`);
}
