// The second thread of wasm's BatchMatMul, Conv2D and Conv2D filter gradient
// (runtime/wasm-simd/threads.ts): instantiates kernels-shared.wasm (matmul.c, conv2d.c and
// kernels.c built for a shared memory) on the memory the main thread shares with it, then loops
// forever: wait on the control word SEQ, run the kernel named in KERNEL with the arguments the main
// thread wrote, publish the sequence number in DONE (and a status) and notify. No messages per
// job. The main thread unref()s this worker, so it never keeps the process alive.
// Plain JavaScript (not compiled by tsc) so that the same file serves the sources and dist/.
import { workerData } from "node:worker_threads";

// Control slots and kernel ids; the same numbers as threads.ts.
const SEQ = 0, DONE = 1, READY = 2, STATUS = 3, KERNEL = 4, PARAMS = 5;
// Each kernel id's export and argument count.
const KERNELS = [["batch_matmul", 12], ["conv2d", 17], ["conv2d_filter_grad", 17]];

const { module, memory, control } = workerData;
const ctl = new Int32Array(control);
// Read before READY is published: the main thread posts its first job only after READY, so any
// job it posts changes SEQ from this value. (Read after READY, a job posted in between would be
// taken as already seen, and the main thread would wait for it until its timeout.)
let seen = Atomics.load(ctl, SEQ);
let kernels;
try {
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  kernels = KERNELS.map(([name, arity]) => {
    if (typeof exports[name] !== "function") throw new Error(`kernels-shared.wasm lacks ${name}`);
    return [exports[name], arity];
  });
  Atomics.store(ctl, READY, 1);
} catch {
  Atomics.store(ctl, READY, -1);
}
Atomics.notify(ctl, READY);

while (kernels) {
  Atomics.wait(ctl, SEQ, seen);
  const seq = Atomics.load(ctl, SEQ);
  if (seq === seen) continue;
  seen = seq;
  let status = 1;
  try {
    const [fn, arity] = kernels[ctl[KERNEL]];
    fn(...ctl.subarray(PARAMS, PARAMS + arity));
  } catch {
    status = 2;
  }
  Atomics.store(ctl, STATUS, status);
  Atomics.store(ctl, DONE, seq);
  Atomics.notify(ctl, DONE);
}
