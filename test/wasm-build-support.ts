// Shared by the tests of the committed wasm binaries (runtime/wasm-simd/*.wasm): the build script,
// and the check that a binary is what its C sources build to today.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { expect } from "vitest";

export const BUILD_SCRIPT = join(import.meta.dirname, "..", "scripts", "build-wasm-kernels.mjs");

/** Rebuilding needs clang-14 (Debian's clang-14 and lld-14); CI has none and uses the committed binaries. */
export const haveClang = spawnSync("clang-14", ["--version"]).status === 0;

/** Rebuilds with `flag` (--out or --out-shared) into a temporary file and expects `committed`'s bytes. */
export function expectRebuildMatches(flag: "--out" | "--out-shared", committed: string): void {
  const dir = mkdtempSync(join(tmpdir(), "vlmc-wasm-build-"));
  try {
    const out = join(dir, basename(committed));
    const r = spawnSync(process.execPath, [BUILD_SCRIPT, flag, out], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(out), readFileSync(committed)), `run \`npm run build:wasm\` and commit ${basename(committed)}`).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
