// Learning-rate schedules: an optional linear warmup, then constant or cosine decay. A pure function
// of the step, so a resumed run picks up the exact rate it would have had.

export type ScheduleKind = "constant" | "cosine";
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ["constant", "cosine"];

export interface Schedule {
  kind: ScheduleKind;
  /** Peak learning rate, reached at the end of the warmup. */
  lr: number;
  /** Steps of linear warmup from lr/warmup up to lr (0 = none). */
  warmup: number;
  /** Total optimisation steps of the run (the cosine reaches `finalLr` at this step). */
  totalSteps: number;
  /** Where the cosine ends (default 0). */
  finalLr?: number;
}

/** The learning rate of step `step` (0-based: the first update is step 0). */
export function learningRate(schedule: Schedule, step: number): number {
  const { kind, lr, warmup, totalSteps } = schedule;
  if (warmup > 0 && step < warmup) return (lr * (step + 1)) / warmup;
  if (kind === "constant") return lr;
  const finalLr = schedule.finalLr ?? 0;
  const span = Math.max(1, totalSteps - warmup);
  const progress = Math.min(1, Math.max(0, (step - warmup) / span));
  return finalLr + (lr - finalLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
