// Runs a sweep's `vlmc train` commands as child processes, `jobs` at a time. Each child writes its
// whole output to <run>/train.log; the parent only reads the "step N/T" lines for progress.
//
// Separate processes rather than one process training in turn: tfjs's wasm backend runs on one
// thread, so two processes use two cores, and a crash or an out-of-memory in one variant cannot take
// the others down.
//
// A sweep can be continued: a run whose folder holds a finished run.json from the same command
// line is reused, and one stopped by Ctrl-C (a checkpoint, no finished run.json) is resumed.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import type { SweepRun } from "./plan.js";

/** Written beside run.json: the exact command line, so a later sweep reuses the run only if it is the same. */
export const SWEEP_RUN_FILE = "sweep-run.json";
export const TRAIN_LOG = "train.log";

export type RunStatus = "done" | "reused" | "failed" | "interrupted";

export interface RunOutcome {
  run: SweepRun;
  status: RunStatus;
  /** The child's exit code (null when reused or killed by a signal). */
  exitCode: number | null;
  /** Wall time of this process's part, in seconds (0 when reused). */
  seconds: number;
  logPath: string;
  /** The end of the log, for a failed run. */
  logTail?: string;
}

export type SweepEvent =
  | { kind: "start"; run: SweepRun; resumed: boolean }
  | { kind: "step"; run: SweepRun; step: number; total: number }
  | { kind: "end"; outcome: RunOutcome };

export interface RunnerOptions {
  /** How many runs at a time. */
  jobs: number;
  /** The command that starts the CLI: [node, path/to/bin/vlmc.js]. */
  launcher: string[];
  /** Reuse finished runs of the same command line (default true). */
  reuse?: boolean;
  onEvent?: (event: SweepEvent) => void;
  /** Extra environment for the children. */
  env?: NodeJS.ProcessEnv;
}

export async function runSweep(runs: SweepRun[], options: RunnerOptions): Promise<RunOutcome[]> {
  const outcomes: RunOutcome[] = new Array(runs.length);
  let next = 0;
  let stopping = false;
  // Ctrl-C reaches the children too (same process group): each checkpoints and exits. The parent
  // stops starting new runs and waits for the running ones to finish saving.
  const onSigint = (): void => {
    stopping = true;
  };
  process.on("SIGINT", onSigint);
  const worker = async (): Promise<void> => {
    while (!stopping && next < runs.length) {
      const run = runs[next++]!;
      outcomes[run.index] = await runOne(run, options);
      if (outcomes[run.index]!.status === "interrupted") stopping = true;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs, runs.length)) }, worker));
  } finally {
    process.off("SIGINT", onSigint);
  }
  // Runs never started (after Ctrl-C) count as interrupted.
  for (const run of runs) {
    outcomes[run.index] ??= { run, status: "interrupted", exitCode: null, seconds: 0, logPath: join(run.dir, TRAIN_LOG) };
  }
  return outcomes;
}

/**
 * Runs side by side already share the cores: each run's wasm GEMM worker (runtime/wasm-simd/
 * threads.ts) would make its main thread wait for a thread the other runs keep busy, and each
 * native TensorFlow session's thread pools would fight the others'. So with more than one job the
 * children run single-threaded, each setting unless the user chose it. Measured on 2 cores, two
 * native ViT trainings side by side: 19.3 ms a step each with TensorFlow's default pools, 13.0
 * with one thread each (docs/performance.md).
 */
export function singleThreadedWhenParallel(jobs: number, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (jobs <= 1) return {};
  const single: NodeJS.ProcessEnv = { VLMC_WASM_THREADS: "0", TF_NUM_INTRAOP_THREADS: "1", TF_NUM_INTEROP_THREADS: "1" };
  return Object.fromEntries(Object.entries(single).filter(([k]) => env[k] === undefined));
}

async function runOne(run: SweepRun, options: RunnerOptions): Promise<RunOutcome> {
  const logPath = join(run.dir, TRAIN_LOG);
  if ((options.reuse ?? true) && isFinishedRun(run)) {
    const outcome: RunOutcome = { run, status: "reused", exitCode: null, seconds: 0, logPath };
    options.onEvent?.({ kind: "end", outcome });
    return outcome;
  }
  mkdirSync(run.dir, { recursive: true });
  const resumed = sameCommand(run) && !specChanged(run) && existsSync(join(run.dir, "checkpoint"));
  const args = resumed ? [...run.args, "--resume"] : run.args;
  writeFileAtomic(join(run.dir, SWEEP_RUN_FILE), JSON.stringify({ args: run.args }, null, 2) + "\n");
  options.onEvent?.({ kind: "start", run, resumed });

  const started = Date.now();
  const log = createWriteStream(logPath, { flags: resumed ? "a" : "w" });
  log.write(`$ vlmc ${args.map(shellQuote).join(" ")}\n`);
  const [command, ...launcherArgs] = options.launcher;
  const child = spawn(command!, [...launcherArgs, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...singleThreadedWhenParallel(options.jobs), ...process.env, ...options.env },
  });
  child.stdout.pipe(log, { end: false });
  let pending = "";
  child.stderr.on("data", (chunk: Buffer) => {
    log.write(chunk);
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      const m = /^step (\d+)\/(\d+)/.exec(line);
      if (m) options.onEvent?.({ kind: "step", run, step: Number(m[1]), total: Number(m[2]) });
    }
  });
  const exitCode = await new Promise<number | null>((resolve) => {
    child.on("error", (err) => {
      log.write(`\ncannot start vlmc: ${err.message}\n`);
      resolve(127);
    });
    child.on("close", (code) => resolve(code));
  });
  await new Promise<void>((resolve) => log.end(resolve));
  const seconds = (Date.now() - started) / 1000;
  const status: RunStatus = exitCode === 0 ? "done" : exitCode === 130 ? "interrupted" : "failed";
  const outcome: RunOutcome = { run, status, exitCode, seconds, logPath };
  if (status === "failed") outcome.logTail = tail(logPath, 12);
  options.onEvent?.({ kind: "end", outcome });
  return outcome;
}

/** A finished, uninterrupted run.json from exactly this command line. */
function isFinishedRun(run: SweepRun): boolean {
  if (!sameCommand(run)) return false;
  const info = readRunJson(run);
  return info?.interrupted === false && !specChanged(run, info);
}

/** The spec was edited since the run in run.dir trained (its run.json names another source hash). */
function specChanged(run: SweepRun, info = readRunJson(run)): boolean {
  const recorded = info?.spec_hash;
  return run.specHash !== undefined && typeof recorded === "string" && recorded !== run.specHash;
}

function readRunJson(run: SweepRun): { interrupted?: unknown; spec_hash?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(join(run.dir, "run.json"), "utf8")) as { interrupted?: unknown; spec_hash?: unknown };
  } catch {
    return undefined;
  }
}

function sameCommand(run: SweepRun): boolean {
  try {
    const recorded = JSON.parse(readFileSync(join(run.dir, SWEEP_RUN_FILE), "utf8")) as { args?: unknown };
    return JSON.stringify(recorded.args) === JSON.stringify(run.args);
  } catch {
    return false;
  }
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=:,+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
