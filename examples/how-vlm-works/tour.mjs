#!/usr/bin/env node
// How vision-language models work, in one command: trains the four model families on the
// shapes world with each spec's own training defaults, then prints what each can do, measured:
//
//   node examples/how-vlm-works/tour.mjs                 # the full tour (about an hour on 2 cores)
//   node examples/how-vlm-works/tour.mjs --steps 20 --limit 256   # a smoke run of the plumbing
//
// Options: --out DIR (default runs/how-vlm-works), --only convnet,vit,clip,kosmos, --steps N and
// --limit N (passed to every `vlmc train`, for quick checks; the figures then mean nothing),
// --jobs N (trainings at a time, default 1; each wasm training uses one core, so 2 on a 2-core
// machine roughly halves the tour; with N > 1 each training's output goes to DIR/<model>.log),
// --skip-train (only print the table from the run.json files already in --out).
// Each model's run directory holds its weights, tokenizer, metrics.jsonl and run.json; the table
// is read from the run.json files alone, and also written to DIR/table.md.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

const FAMILIES = [
  { key: "convnet", spec: "specs/convnet.vlm", family: "ConvNet (LeCun 1998)", adds: "convolution + pooling" },
  { key: "vit", spec: "specs/vit.vlm", family: "ViT (2021)", adds: "patches + transformer" },
  { key: "clip", spec: "specs/clip.vlm", family: "CLIP (2021)", adds: "text tower + contrastive connector" },
  { key: "kosmos", spec: "specs/kosmos.vlm", family: "KOSMOS (2023)", adds: "causal decoder over image + text" },
];

function parseArgs(argv) {
  const opts = { out: "runs/how-vlm-works", only: FAMILIES.map((f) => f.key), steps: undefined, limit: undefined, jobs: 1, skipTrain: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === "--out") opts.out = value();
    else if (a === "--only") opts.only = value().split(",").map((s) => s.trim());
    else if (a === "--steps") opts.steps = positive(a, value());
    else if (a === "--limit") opts.limit = positive(a, value());
    else if (a === "--jobs") opts.jobs = positive(a, value());
    else if (a === "--skip-train") opts.skipTrain = true;
    else if (a === "--help" || a === "-h") {
      // The help is the comment at the top of this file.
      const lines = readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1);
      const header = lines.slice(0, lines.findIndex((l) => !l.startsWith("//")));
      process.stdout.write(header.map((l) => l.replace(/^\/\/ ?/, "")).join("\n") + "\n");
      process.exit(0);
    } else fail(`unknown option ${a} (see --help)`);
  }
  const unknown = opts.only.filter((k) => !FAMILIES.some((f) => f.key === k));
  if (unknown.length > 0) fail(`--only: unknown model ${unknown.join(", ")} (expected some of ${FAMILIES.map((f) => f.key).join(", ")})`);
  return opts;
}

function positive(flag, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a positive integer, got ${v}`);
  return n;
}

function fail(message) {
  process.stderr.write(`tour: ${message}\n`);
  process.exit(2);
}

/** Trains one family; resolves to its exit code. With jobs > 1 its output goes to a log file. */
function trainOne(family, opts) {
  const out = join(opts.out, family.key);
  const args = [join(root, "bin", "vlmc.js"), "train", join(root, family.spec), "--data", "shapes", "--out", out];
  if (opts.steps !== undefined) args.push("--steps", String(opts.steps));
  if (opts.limit !== undefined) args.push("--limit", String(opts.limit));
  const command = `vlmc ${args.slice(1).join(" ")}`;
  const started = Date.now();
  let child;
  if (opts.jobs === 1) {
    process.stderr.write(`\n== ${family.family}: ${command}\n`);
    child = spawn(process.execPath, args, { stdio: "inherit" });
  } else {
    mkdirSync(opts.out, { recursive: true });
    const logPath = join(opts.out, `${family.key}.log`);
    process.stderr.write(`start ${family.family}: ${command} (output in ${logPath})\n`);
    const log = createWriteStream(logPath);
    // Trainings side by side share the cores: each runs single-threaded (no wasm GEMM worker, one
    // thread per native TensorFlow pool), each setting unless the user chose it (as `vlmc diff
    // --train` does, runtime/sweep/runner.ts).
    const single = { VLMC_WASM_THREADS: "0", TF_NUM_INTRAOP_THREADS: "1", TF_NUM_INTEROP_THREADS: "1" };
    const env = { ...single, ...process.env };
    child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on("close", () => log.end());
  }
  return new Promise((resolveCode) => {
    child.on("error", () => resolveCode(127));
    child.on("close", (code) => {
      if (opts.jobs > 1) process.stderr.write(`done ${family.family}: exit ${code} after ${((Date.now() - started) / 60000).toFixed(1)} min\n`);
      resolveCode(code);
    });
  });
}

/** Trains the families, `opts.jobs` at a time, in the table's order of starting. */
async function trainAll(families, opts) {
  let next = 0;
  const failed = [];
  const worker = async () => {
    while (next < families.length) {
      const family = families[next++];
      const code = await trainOne(family, opts);
      if (code !== 0) failed.push(`${family.key} (exit ${code})`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, families.length) }, worker));
  if (failed.length > 0) fail(`training failed: ${failed.join(", ")}; see the messages above${opts.jobs > 1 ? ` and the logs in ${opts.out}` : ""}`);
}

function readRun(family, opts) {
  const file = join(opts.out, family.key, "run.json");
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8"));
}

const pct = (v) => (typeof v === "number" ? `${(v * 100).toFixed(1)}%` : "—");

/** One table row from a run.json's metrics; "—" where a capability does not apply. */
function row(family, run) {
  const m = run?.metrics ?? {};
  const classifier = family.key === "convnet" || family.key === "vit";
  return [
    family.family,
    family.adds,
    run ? run.params.toLocaleString("en-US") : "—",
    run ? `${(run.wall_time_s / 60).toFixed(1)} min` : "—",
    // Shape of the image as a preset category: a classifier's accuracy, KOSMOS's "what shape is it ?".
    pct(classifier ? m.test_accuracy : m.test_qa_accuracy_shape),
    pct(classifier ? m.heldout_accuracy : m.heldout_qa_accuracy_shape),
    // Colour and shape from 30 text prompts, on combinations never seen in training.
    pct(m.heldout_zero_shot_accuracy),
    pct(m.test_qa_accuracy),
    pct(m.heldout_qa_accuracy),
  ];
}

const HEADER = [
  "model",
  "adds",
  "parameters",
  "training time",
  "shape, test",
  "shape, unseen combinations",
  "zero-shot colour+shape, unseen (chance 3.3%)",
  "QA exact match, test",
  "QA exact match, unseen",
];

function markdown(rows) {
  const lines = [`| ${HEADER.join(" | ")} |`, `| ${HEADER.map(() => "---").join(" | ")} |`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}

const opts = parseArgs(process.argv.slice(2));
if (!existsSync(join(root, "dist", "cli", "main.js"))) fail("the CLI is not built: run `npm run build` (npm ci runs it) first");
const chosen = FAMILIES.filter((f) => opts.only.includes(f.key));
// The longest trainings first, so that with --jobs 2 the two cores finish at about the same time.
const longestFirst = ["kosmos", "clip", "vit", "convnet"];
if (!opts.skipTrain) await trainAll([...chosen].sort((a, b) => longestFirst.indexOf(a.key) - longestFirst.indexOf(b.key)), opts);
const rows = chosen.map((f) => row(f, readRun(f, opts)));
const table = markdown(rows);
const note =
  "shape: a classifier's accuracy, or KOSMOS's answer to \"what shape is it ?\"; unseen combinations: the heldout split's " +
  "colour–shape pairs, never in training. Zero-shot: CLIP ranks the 30 prompts \"a {colour} {shape}\", right when both match. " +
  "QA: exact match of the greedy answer to the colour, shape, size and position questions.";
process.stdout.write(`\n${table}\n\n${note}\n`);
if (opts.steps !== undefined || opts.limit !== undefined) process.stdout.write("(quick run: --steps/--limit were given, so these figures are not the models' real ones)\n");
mkdirSync(opts.out, { recursive: true });
// Written whole or not at all (temp file + rename), like every file vlmc writes.
const tableFile = join(opts.out, "table.md");
writeFileSync(`${tableFile}.tmp`, `${table}\n\n${note}\n`);
renameSync(`${tableFile}.tmp`, tableFile);
