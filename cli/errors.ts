// Errors that end a command with a message for the user (never a stack trace).
import { DataError } from "../runtime/data/types.js";

/** Thrown to end the process with `code` after printing `message` to stderr. */
export class CliExit extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "CliExit";
  }
}

/** A user error found while running a command (bad file, bad flag value): exit 1 unless told. */
export class UserError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
    this.name = "UserError";
  }
}

export function reportError(err: unknown): number {
  if (err instanceof CliExit) {
    if (err.message) process.stderr.write(err.message.endsWith("\n") ? err.message : err.message + "\n");
    return err.code;
  }
  if (err instanceof UserError) {
    process.stderr.write(`error: ${err.message}\n`);
    return err.code;
  }
  if (err instanceof DataError) {
    process.stderr.write(`error[data]: ${err.message}\n`);
    return 1;
  }
  throw err;
}
