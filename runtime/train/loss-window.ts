// The training losses since the last log line. Each step's loss stays on the device until the
// window is read (the step loop's only host read); values are summed on the host in step order, and
// the partial sum is saved in checkpoints, so a resumed run logs exactly the figures an
// uninterrupted one would.
import * as tf from "@tensorflow/tfjs-core";

export interface LossWindowState {
  sum: number;
  count: number;
}

export class LossWindow {
  private pending: tf.Scalar[] = [];
  private sum = 0;
  private count = 0;

  /** Takes ownership of one step's loss tensor. */
  push(loss: tf.Scalar): void {
    this.pending.push(loss);
  }

  /** Moves the pending losses to the host, into the partial sum. */
  flush(): void {
    if (this.pending.length === 0) return;
    const values = tf.tidy(() => tf.stack(this.pending).dataSync());
    this.dispose();
    for (const v of values) {
      this.sum += v;
      this.count++;
    }
  }

  /** The mean loss of the window, which then starts afresh. */
  takeMean(): number {
    this.flush();
    const mean = this.sum / this.count;
    this.sum = 0;
    this.count = 0;
    return mean;
  }

  /** The partial sum, for a checkpoint (flushes first). */
  save(): LossWindowState {
    this.flush();
    return { sum: this.sum, count: this.count };
  }

  restore(state: LossWindowState): void {
    this.dispose();
    this.sum = state.sum;
    this.count = state.count;
  }

  /** Frees the pending tensors (their values are lost unless flushed first). */
  dispose(): void {
    for (const t of this.pending) t.dispose();
    this.pending = [];
  }
}
