// The second thread of wasm's BatchMatMul (runtime/wasm-simd/threads.ts): instantiates
// kernels-shared.wasm (matmul.c built for a shared memory) on the memory the main thread shares
// with it, then loops forever: wait on the control word SEQ, run the batch_matmul whose arguments
// the main thread wrote, publish the sequence number in DONE (and a status) and notify. No
// messages per job. The main thread unref()s this worker, so it never keeps the process alive.
// Plain JavaScript (not compiled by tsc) so that the same file serves the sources and dist/.
import { workerData } from "node:worker_threads";

// Control slots; the same numbers as threads.ts.
const SEQ = 0, DONE = 1, READY = 2, STATUS = 3, PARAMS = 4;

const { module, memory, control } = workerData;
const ctl = new Int32Array(control);
// Read before READY is published: the main thread posts its first job only after READY, so any
// job it posts changes SEQ from this value. (Read after READY, a job posted in between would be
// taken as already seen, and the main thread would wait for it until its timeout.)
let seen = Atomics.load(ctl, SEQ);
let batchMatmul;
try {
  batchMatmul = new WebAssembly.Instance(module, { env: { memory } }).exports.batch_matmul;
  Atomics.store(ctl, READY, 1);
} catch {
  Atomics.store(ctl, READY, -1);
}
Atomics.notify(ctl, READY);

while (batchMatmul) {
  Atomics.wait(ctl, SEQ, seen);
  const seq = Atomics.load(ctl, SEQ);
  if (seq === seen) continue;
  seen = seq;
  let status = 1;
  try {
    const p = ctl.subarray(PARAMS, PARAMS + 12);
    batchMatmul(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]);
  } catch {
    status = 2;
  }
  Atomics.store(ctl, STATUS, status);
  Atomics.store(ctl, DONE, seq);
  Atomics.notify(ctl, DONE);
}
