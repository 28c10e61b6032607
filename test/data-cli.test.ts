import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodePng } from "../runtime/data/images.js";
import { runCli as run } from "./cli-capture.js";


afterEach(() => vi.restoreAllMocks());

describe("vlmc data", () => {
  it("exports shapes as PNGs, JSONL and a contact sheet", async () => {
    const out = mkdtempSync(join(tmpdir(), "vlmc-export-"));
    const { code, stdout } = await run("data", "export", "shapes", "-o", out, "--split", "heldout", "--limit", "20");
    expect(code).toBe(0);
    expect(stdout).toMatch(/wrote 20 heldout images of shapes/);
    const lines = readFileSync(join(out, "heldout.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(20);
    expect(lines[0]).toMatchObject({ file: "heldout/00000.png", class: lines[0].attrs.shape });
    expect(lines[0].caption).toMatch(/^a /);
    expect(lines[0].qa).toHaveLength(4);
    const png = PNG.sync.read(readFileSync(join(out, lines[19].file)));
    expect([png.width, png.height]).toEqual([32, 32]);
    const grid = PNG.sync.read(readFileSync(join(out, "heldout-grid.png")));
    // 16 thumbnails per row at 64 px with 2 px gutters; 20 images fill two rows.
    expect([grid.width, grid.height]).toEqual([16 * 66 + 2, 2 * 66 + 2]);
  });

  it("exports MNIST digits as grey PNGs", async () => {
    const out = mkdtempSync(join(tmpdir(), "vlmc-export-"));
    const { code } = await run("data", "export", "mnist", "-o", out, "--split", "test", "--limit", "3");
    expect(code).toBe(0);
    const first = JSON.parse(readFileSync(join(out, "test.jsonl"), "utf8").split("\n")[0]!);
    expect(first).toEqual({ file: "test/00000.png", label: 7, class: "7" });
    expect(existsSync(join(out, "test", "00002.png"))).toBe(true);
  });

  it("replaces an earlier export but never a folder it did not write", async () => {
    const out = mkdtempSync(join(tmpdir(), "vlmc-export-"));
    expect((await run("data", "export", "shapes", "-o", out, "--split", "test", "--limit", "5")).code).toBe(0);
    expect((await run("data", "export", "shapes", "-o", out, "--split", "test", "--limit", "2")).code).toBe(0);
    expect(readdirSync(join(out, "test")).sort()).toEqual(["00000.png", "00001.png"]);
    expect(readdirSync(out).filter((f) => f.startsWith("."))).toEqual([]); // no temp folder left

    mkdirSync(join(out, "train"));
    writeFileSync(join(out, "train", "mine.txt"), "keep me");
    const refused = await run("data", "export", "shapes", "-o", out, "--limit", "2");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/train already exists and is not an earlier export/);
    expect(readdirSync(join(out, "train"))).toEqual(["mine.txt"]);
  });

  it("exports and describes a user image folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vlmc-folder-"));
    const lines = ["a", "b", "c"].map((name, i) => {
      writeFileSync(join(dir, `${name}.png`), encodePng(new Uint8Array(2 * 3 * 3).fill(i * 100), 3, 2, 3));
      return JSON.stringify({ file: `${name}.png`, label: name === "a" ? "cat" : "dog", split: i < 2 ? "train" : "test" });
    });
    writeFileSync(join(dir, "labels.jsonl"), lines.join("\n") + "\n");
    const info = await run("data", "info", dir);
    expect(info.code).toBe(0);
    expect(info.stdout).toContain("classes (2): cat, dog");
    expect(info.stdout).toMatch(/train\s+2 images of 2×3×1/);
    const out = mkdtempSync(join(tmpdir(), "vlmc-export-"));
    expect((await run("data", "export", dir, "-o", out)).code).toBe(0);
    const exported = readFileSync(join(out, "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(exported.map((e) => e.class)).toEqual(["cat", "dog"]);
  });

  it("prints dataset info", async () => {
    const { code, stdout } = await run("data", "info", "shapes");
    expect(code).toBe(0);
    expect(stdout).toContain("classes (5): circle, square, triangle, cross, star");
    expect(stdout).toMatch(/train\s+20000 images of 32×32×3/);
    expect(stdout).toMatch(/heldout\s+1800 images/);
  });

  it("reports bad input as a one-line error, not a stack trace", async () => {
    const unknown = await run("data", "info", "cifar");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("error[data]: unknown dataset 'cifar': expected one of mnist, shapes, or the path of a folder of images with a labels.jsonl\n");
    const split = await run("data", "export", "mnist", "-o", mkdtempSync(join(tmpdir(), "vlmc-export-")), "--split", "heldout");
    expect(split.code).toBe(1);
    expect(split.stderr).toMatch(/dataset 'mnist' has no split 'heldout'; its splits are: train, test/);
    const limit = await run("data", "export", "shapes", "-o", "x", "--limit", "0");
    expect(limit.code).toBe(2);
    expect(limit.stderr).toMatch(/--limit must be a positive integer/);
    const seed = await run("data", "info", "shapes", "--seed", "1.5");
    expect(seed.code).toBe(1);
    expect(seed.stderr).toBe("error[data]: shapes world: the seed must be an integer, got 1.5\n");
  });
});
