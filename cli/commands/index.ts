// The command registry: each command lives in its own module.
import type { VlmcCommand } from "./types.js";
import { dataCommand } from "./data.js";
import { trainCommand } from "./train.js";
import { evalCommand } from "./eval.js";
import { fmtCommand } from "./fmt.js";
import { checkCommand } from "./check.js";
import { compileCommand } from "./compile.js";
import { inspectCommand } from "./inspect.js";
import { importCommand } from "./import.js";
import { runCommand } from "./run.js";
import { predictCommand } from "./predict.js";
import { diffCommand } from "./diff.js";

export const commands: VlmcCommand[] = [
  dataCommand,
  trainCommand,
  evalCommand,
  fmtCommand,
  checkCommand,
  compileCommand,
  inspectCommand,
  importCommand,
  runCommand,
  predictCommand,
  diffCommand,
];
