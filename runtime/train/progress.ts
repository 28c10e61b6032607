// Training progress for a person watching: on a terminal, a live bar (cli-progress) with the step,
// the last logged loss, throughput and ETA, with evaluation lines printed above it; otherwise (a
// pipe, a log file, CI) one plain line per logged step, so logs stay readable and grep-able.
import cliProgress from "cli-progress";

export interface StepReport {
  step: number;
  totalSteps: number;
  /** 1-based. */
  epoch: number;
  /** Mean loss since the previous report; absent on steps without a host read. */
  loss?: number;
  lr: number;
  examplesPerSecond: number;
}

export interface Progress {
  start(totalSteps: number, firstStep: number): void;
  /** Called every step; `report.loss` is set on logged steps only. */
  step(report: StepReport): void;
  /** A line of text (an evaluation, a checkpoint) that must not garble the bar. */
  line(text: string): void;
  stop(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Force the terminal bar on or off (default: whether the stream is a TTY). */
  tty?: boolean;
}

export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  return tty ? new BarProgress(stream) : new LineProgress(stream);
}

/** Progress that prints nothing (library use, tests). */
export const silentProgress: Progress = { start() {}, step() {}, line() {}, stop() {} };

class LineProgress implements Progress {
  private startedAt = 0;
  private firstStep = 0;

  constructor(private readonly stream: NodeJS.WritableStream) {}

  start(_totalSteps: number, firstStep: number): void {
    this.startedAt = Date.now();
    this.firstStep = firstStep;
  }

  step(r: StepReport): void {
    if (r.loss === undefined) return;
    const done = r.step - this.firstStep;
    const elapsed = (Date.now() - this.startedAt) / 1000;
    const eta = done > 0 ? (elapsed / done) * (r.totalSteps - r.step) : 0;
    this.stream.write(
      `step ${r.step}/${r.totalSteps}  epoch ${r.epoch}  loss ${formatLoss(r.loss)}  lr ${r.lr.toExponential(2)}  ` +
        `${Math.round(r.examplesPerSecond)} ex/s  eta ${formatDuration(eta)}\n`,
    );
  }

  line(text: string): void {
    this.stream.write(text + "\n");
  }

  stop(): void {}
}

class BarProgress implements Progress {
  private readonly multi: cliProgress.MultiBar;
  private bar: cliProgress.SingleBar | undefined;
  private loss = "-";

  constructor(stream: NodeJS.WritableStream) {
    this.multi = new cliProgress.MultiBar({
      stream,
      format: "train |{bar}| {value}/{total} steps | epoch {epoch} | loss {loss} | {speed} ex/s | ETA {eta_formatted}",
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
  }

  start(totalSteps: number, firstStep: number): void {
    this.bar = this.multi.create(totalSteps, firstStep, { epoch: 1, loss: this.loss, speed: 0 });
  }

  step(r: StepReport): void {
    if (r.loss !== undefined) this.loss = formatLoss(r.loss);
    this.bar?.update(r.step, { epoch: r.epoch, loss: this.loss, speed: Math.round(r.examplesPerSecond) });
  }

  line(text: string): void {
    this.multi.log(text + "\n");
  }

  stop(): void {
    this.multi.stop();
  }
}

function formatLoss(loss: number): string {
  return Number.isFinite(loss) ? loss.toFixed(4) : String(loss);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
