// The structural diff of two compiled programs (`vlmc diff`): see diff.ts; schema in types.ts and docs/diff.md.
export { diffPrograms } from "./diff.js";
export type { DiffOptions } from "./diff.js";
export { formatDiff, formatValue } from "./format.js";
export { visualTokens } from "./tokens.js";
export { weightCompatibility } from "./weights.js";
export * from "./types.js";
