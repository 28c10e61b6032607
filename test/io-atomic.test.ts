import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { writeFileAtomic } from "../runtime/io/atomic.js";
import { FileWriteError } from "../runtime/io/errors.js";

// Lets a test make the flush to disk fail, as a full disk would, half way through a write.
const injected = vi.hoisted(() => ({ failFsync: false }));
vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>();
  return {
    ...actual,
    fsyncSync(fd: number) {
      if (injected.failFsync) {
        const err = new Error("ENOSPC: no space left on device, fsync") as NodeJS.ErrnoException;
        err.code = "ENOSPC";
        throw err;
      }
      return actual.fsyncSync(fd);
    },
  };
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vlmc-io-atomic-"));
  injected.failFsync = false;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("writeFileAtomic", () => {
  it("writes strings and bytes, replacing an existing file", () => {
    const path = join(dir, "a.txt");
    writeFileAtomic(path, "first");
    expect(readFileSync(path, "utf8")).toBe("first");
    writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual(["a.txt"]);
  });

  it("creates missing parent directories", () => {
    const path = join(dir, "x", "y", "z.json");
    writeFileAtomic(path, "{}");
    expect(readFileSync(path, "utf8")).toBe("{}");
  });

  it("keeps the old file intact and removes its temp file when the write fails", () => {
    const path = join(dir, "weights.bin");
    writeFileSync(path, "old content");
    injected.failFsync = true;
    expect(() => writeFileAtomic(path, "new content")).toThrow(FileWriteError);
    expect(() => writeFileAtomic(path, "new content")).toThrow(/weights\.bin: could not write the file: ENOSPC/);
    expect(readFileSync(path, "utf8")).toBe("old content");
    expect(readdirSync(dir)).toEqual(["weights.bin"]);
  });

  it("reports a parent path that is a file, without a stack-trace error", () => {
    writeFileSync(join(dir, "file"), "");
    const path = join(dir, "file", "child.txt");
    expect(() => writeFileAtomic(path, "x")).toThrow(/child\.txt: could not write the file: (ENOTDIR|EEXIST)/);
  });

  it("leaves a directory in the way untouched and cleans up", () => {
    const path = join(dir, "taken");
    mkdirSync(path);
    expect(() => writeFileAtomic(path, "x")).toThrow(FileWriteError);
    expect(readdirSync(dir)).toEqual(["taken"]);
  });
});
