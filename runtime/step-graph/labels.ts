// What both recorders (runtime/native-graph/trace.ts, runtime/kernel-replay/record.ts) write into a
// recording's description and its messages: a constant named by its content, and the code that
// read a value back.
import { createHash } from "node:crypto";

/** A constant by its content: dtype (tfjs name or TF_DataType), shape and a hash of its bytes. */
export function contentLabel(dtype: string | number | undefined, shape: readonly number[], data: ArrayBufferView): string {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return `=${dtype}[${shape.join(",")}]${createHash("sha1").update(bytes).digest("hex")}`;
}

/**
 * The first frame of `stack` ("file.ts:12:3") outside tfjs-core and outside the files `skip`
 * matches (the recorder's own, the backend's): the kernel or model code that read a value.
 */
export function readSite(stack: string, skip: RegExp): string | undefined {
  const frames = stack.split("\n").slice(1).map((l) => l.trim());
  const frame = frames.find((f) => !/tfjs-core|tf-core\./.test(f) && !skip.test(f));
  return frame?.match(/([^/\\ (]+:\d+:\d+)\)?$/)?.[1];
}
