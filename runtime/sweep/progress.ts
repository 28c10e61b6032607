// What a person watching a sweep sees: on a terminal, one live bar per running run (cli-progress);
// otherwise a plain line when a run starts and when it ends, so logs stay short.
import cliProgress from "cli-progress";
import { formatDuration } from "../train/progress.js";
import type { SweepRun } from "./plan.js";
import type { SweepEvent } from "./runner.js";

export interface SweepProgress {
  onEvent(event: SweepEvent): void;
  stop(): void;
}

export function createSweepProgress(totalRuns: number, stream: NodeJS.WriteStream = process.stderr): SweepProgress {
  return stream.isTTY ? new BarSweepProgress(totalRuns, stream) : new LineSweepProgress(totalRuns, stream);
}

export function runLabel(run: SweepRun): string {
  return `${run.variant.name} seed ${run.seed}`;
}

function endLine(event: Extract<SweepEvent, { kind: "end" }>, finished: number, total: number): string {
  const { outcome } = event;
  const label = runLabel(outcome.run);
  const where = `[${finished}/${total}]`;
  switch (outcome.status) {
    case "reused":
      return `${where} ${label}: reused the finished run in ${outcome.run.dir}`;
    case "done":
      return `${where} ${label}: done in ${formatDuration(outcome.seconds)}`;
    case "interrupted":
      return `${where} ${label}: interrupted (run the same command again to continue)`;
    case "failed":
      return `${where} ${label}: FAILED (exit ${outcome.exitCode}); see ${outcome.logPath}` + (outcome.logTail ? `\n${indent(outcome.logTail)}` : "");
  }
}

function indent(text: string): string {
  return text.split("\n").map((l) => `    ${l}`).join("\n");
}

class LineSweepProgress implements SweepProgress {
  private finished = 0;

  constructor(private readonly total: number, private readonly stream: NodeJS.WritableStream) {}

  onEvent(event: SweepEvent): void {
    if (event.kind === "start") this.stream.write(`start ${runLabel(event.run)}${event.resumed ? " (resuming its checkpoint)" : ""} → ${event.run.dir}\n`);
    if (event.kind === "end") this.stream.write(endLine(event, ++this.finished, this.total) + "\n");
  }

  stop(): void {}
}

class BarSweepProgress implements SweepProgress {
  private readonly multi: cliProgress.MultiBar;
  private readonly bars = new Map<number, cliProgress.SingleBar>();
  private finished = 0;

  constructor(private readonly total: number, stream: NodeJS.WritableStream) {
    this.multi = new cliProgress.MultiBar(
      { stream, format: "{label} |{bar}| {value}/{total} steps | ETA {eta_formatted}", barsize: 24, hideCursor: true, clearOnComplete: true, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
  }

  onEvent(event: SweepEvent): void {
    if (event.kind === "start") {
      this.bars.set(event.run.index, this.multi.create(1, 0, { label: runLabel(event.run).padEnd(32).slice(0, 32) }));
    } else if (event.kind === "step") {
      const bar = this.bars.get(event.run.index);
      bar?.setTotal(event.total);
      bar?.update(event.step);
    } else {
      const bar = this.bars.get(event.outcome.run.index);
      if (bar) {
        this.multi.remove(bar);
        this.bars.delete(event.outcome.run.index);
      }
      this.multi.log(endLine(event, ++this.finished, this.total) + "\n");
    }
  }

  stop(): void {
    this.multi.stop();
  }
}
