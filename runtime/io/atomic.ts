// Atomic file replacement: readers see either the old file or the complete new one, never a
// partial write, even if the process is killed or the disk fills up half way.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { FileWriteError, describeSystemError } from "./errors.js";

/**
 * Writes `data` to `path` atomically: the bytes go to a temporary file in the same directory
 * (rename is only atomic within one file system), are flushed to disk, then renamed over `path`.
 * Parent directories are created. On failure the temporary file is removed, `path` keeps its
 * previous content, and a FileWriteError naming `path` is thrown.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  // Hidden and unique per process and call, so that concurrent writers never share a temp file.
  const tempPath = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let fd: number | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(tempPath, "wx");
    let written = 0;
    while (written < bytes.byteLength) {
      written += writeSync(fd, bytes, written, bytes.byteLength - written);
    }
    // Without the fsync, a crash right after the rename can leave an empty file under the new name.
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tempPath, path);
  } catch (err) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Already failing: the original error is the one worth reporting.
      }
    }
    try {
      unlinkSync(tempPath);
    } catch {
      // The temp file may never have been created.
    }
    throw new FileWriteError(path, describeSystemError(err));
  }
  syncDirectory(dir);
}

/** Makes the rename itself durable. Best effort: some platforms cannot open or fsync a directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Not supported here (e.g. Windows); the file content is already safe.
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Nothing to recover: the descriptor was read-only.
      }
    }
  }
}
