// File formats and durable writes: safetensors, JSON tensors, checkpoints. Plain typed arrays
// only (no tfjs), so every backend and tool can use it. See README.md in this folder.
export { writeFileAtomic } from "./atomic.js";
export { FileWriteError, IoError } from "./errors.js";
export * from "./safetensors.js";
export * from "./tensor-json.js";
export * from "./checkpoint.js";
export {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  float16BitsToNumber,
  numberToBfloat16Bits,
  numberToFloat16Bits,
} from "./float16.js";
