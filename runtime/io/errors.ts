// The errors of runtime/io. They extend DataError so that the CLI prints them as user errors
// (file name and message, no stack trace) without knowing about this module.
import { DataError } from "../data/types.js";

/** Base class of every error this module throws about a file the user gave us. */
export class IoError extends DataError {
  constructor(message: string, file?: string) {
    super(message, file);
    this.name = "IoError";
  }
}

/** Writing a file failed (disk full, permission denied...). The previous file, if any, is untouched. */
export class FileWriteError extends IoError {
  constructor(readonly path: string, reason: string) {
    super(`could not write the file: ${reason}`, path);
    this.name = "FileWriteError";
  }
}

/** Turns a Node error into a short reason ("ENOENT: no such file or directory") for a message. */
export function describeSystemError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    // Node's messages repeat the syscall and the path ("ENOENT: ..., open 'x'"): keep the reason only.
    const reason = err.message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "");
    return code ? `${code}: ${reason}` : reason;
  }
  return String(err);
}
