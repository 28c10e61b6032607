// `vlmc setup native`: builds @tensorflow/tfjs-node 4.22.0's binding against the TensorFlow C
// library of a TensorFlow Python package, with no download beyond the npm registry.
//
// Steps, each reported on one line: find TensorFlow → install tfjs-node into a staging npm prefix
// with --ignore-scripts (its install script is the libtensorflow download) → point its tfjs-core
// and tfjs-backend-cpu at vlmc's own copies (a second tfjs-core would be a second engine: the
// backend would register where vlmc never looks) → lay out deps/lib and deps/include from the
// TensorFlow package → compile the binding with node-gyp → load it in a child process and run an
// op and a gradient → write the manifest → swap the staging directory into place.
//
// Atomic where it matters: everything is built in a sibling staging directory and renamed into
// place only after the check passes, so a failed or killed run leaves the previous build (or none)
// intact; runtime/backend.ts loads only a directory holding the manifest, which is written last.
// Idempotent: when the manifest matches the same TensorFlow source and the build still loads,
// nothing is redone (--force rebuilds).
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { writeFileAtomic } from "../io/atomic.js";
import { MANIFEST_FILE, nativeEntry, readManifest, TFJS_NODE_PACKAGE, TFJS_NODE_VERSION, tfjsNodeDir, type NativeManifest } from "./location.js";
import { findTensorflowSource, NativeSetupError, type LayoutFile, type TensorflowSource } from "./tensorflow-source.js";
import { findToolchain, type Toolchain } from "./toolchain.js";
import { extractZipEntry } from "./zip.js";

export { NativeSetupError } from "./tensorflow-source.js";

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started at all (ENOENT: not installed). */
  error?: NodeJS.ErrnoException;
}

/** Runs a command to completion. Replaced in tests, which must not install or compile anything. */
export type CommandRunner = (command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }) => RunResult;

export const runCommand: CommandRunner = (command, args, options) => {
  const child = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: "utf8",
    maxBuffer: 64 * 2 ** 20,
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
  });
  return { status: child.status, stdout: child.stdout ?? "", stderr: child.stderr ?? "", ...(child.error ? { error: child.error as NodeJS.ErrnoException } : {}) };
};

/** Shared tfjs packages: tfjs-node's copies are replaced by links to vlmc's (same version required). */
const SHARED_PACKAGES = ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu"] as const;

export interface SetupOptions {
  /** A TensorFlow package directory, site-packages directory or wheel; absent: ask `python`. */
  from?: string;
  /** The Python whose installed `tensorflow` is used when `from` is absent. */
  python: string;
  /** Where the build goes (location.ts's nativeDir()). */
  dir: string;
  /** Rebuild even when the existing build is up to date. */
  force: boolean;
  log: (line: string) => void;
  run?: CommandRunner;
  /** Finds npm, node-gyp, the Node headers and the compiler (tests pass fixed paths). */
  toolchain?: () => Toolchain;
  /** Resolves vlmc's own packages (tests point it at fakes). */
  resolvePackageDir?: (name: string) => string;
}

export interface SetupResult {
  manifest: NativeManifest;
  /** True when an up-to-date build was found and nothing was rebuilt. */
  unchanged: boolean;
}

const requireHere = createRequire(import.meta.url);

/** vlmc's copy of a package: the directory holding its package.json. */
export function vlmcPackageDir(name: string): string {
  return dirname(requireHere.resolve(`${name}/package.json`));
}

export async function setupNative(options: SetupOptions): Promise<SetupResult> {
  const run = options.run ?? runCommand;
  const log = options.log;
  const packageDir = options.resolvePackageDir ?? vlmcPackageDir;

  // Absolute, so that the manifest names the source wherever the command was run from.
  const source = await findTensorflowSource(resolve(options.from ?? locateInstalledTensorflow(options.python, run)));
  const libBytes = source.files.filter((f) => f.target.startsWith("lib/")).reduce((n, f) => n + f.size, 0);
  log(`tensorflow: ${source.version ?? "version unknown"} (${source.kind === "wheel" ? "wheel" : "installed package"} ${source.path})`);

  const napiVersion = napiBuildVersion();
  const existing = readManifest(options.dir);
  if (!options.force && existing && upToDate(existing, source, napiVersion)) {
    const check = verifyBuild(options.dir, packageDir("@tensorflow/tfjs-core"), run);
    if (check.ok) {
      log(`native TensorFlow is already set up in ${options.dir} and loads; nothing to do (--force rebuilds)`);
      return { manifest: existing, unchanged: true };
    }
    log(`the existing build no longer loads (${check.why}); rebuilding`);
  }

  const toolchain = (options.toolchain ?? findToolchain)();
  mkdirSync(dirname(options.dir), { recursive: true });
  removeStaleSiblings(options.dir);
  checkFreeSpace(dirname(options.dir), libBytes);
  const staging = `${options.dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    installTfjsNode(staging, toolchain, run, log);
    shareTfjsPackages(staging, options.dir, packageDir, log);
    await layOutDeps(join(tfjsNodeDir(staging), "deps"), source.files, log);
    buildBinding(tfjsNodeDir(staging), napiVersion, toolchain, run, log);
    log("checking: loading the binding on vlmc's tfjs-core and running an op and its gradient …");
    const check = verifyBuild(staging, packageDir("@tensorflow/tfjs-core"), run);
    if (!check.ok) throw new NativeSetupError(`the built binding does not work: ${check.why}`);
    const manifest: NativeManifest = {
      tfjs_node: TFJS_NODE_VERSION,
      tensorflow: source.version,
      source: source.path,
      source_stamp: source.stamp,
      napi_version: napiVersion,
      node: process.version,
      built_at: new Date().toISOString(),
    };
    writeFileAtomic(join(staging, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
    swapIntoPlace(staging, options.dir);
    const what = source.version === null ? "native TensorFlow" : `native TensorFlow ${source.version}`;
    log(`done: ${what} is set up in ${options.dir}; \`--backend auto\` now uses it (\`--backend tensorflow\` to insist)`);
    return { manifest, unchanged: false };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function upToDate(manifest: NativeManifest, source: TensorflowSource, napiVersion: number): boolean {
  return manifest.tfjs_node === TFJS_NODE_VERSION && manifest.source_stamp === source.stamp && manifest.napi_version === napiVersion;
}

/**
 * Asks `python` where its `tensorflow` package is without importing it (find_spec reads the path
 * only; importing TensorFlow takes seconds and prints banners).
 */
export function locateInstalledTensorflow(python: string, run: CommandRunner): string {
  const script =
    "import importlib.util, json\n" +
    "spec = importlib.util.find_spec('tensorflow')\n" +
    "print(json.dumps(list(spec.submodule_search_locations or []) if spec else []))\n";
  const result = run(python, ["-c", script], { timeoutMs: 60_000 });
  const howTo = "install it with `pip install tensorflow-cpu`, or pass --from PATH (a tensorflow package directory, a site-packages directory, or a tensorflow_cpu-….whl from `pip download tensorflow-cpu --no-deps -d DIR`)";
  if (result.error?.code === "ENOENT") throw new NativeSetupError(`${python} was not found, so no installed TensorFlow could be looked up; ${howTo}`);
  if (result.status !== 0) {
    const why = lastLines(result.stderr || result.stdout, 2) || (result.error?.message ?? `exit status ${result.status}`);
    throw new NativeSetupError(`could not ask ${python} for its TensorFlow (${why}); ${howTo}`);
  }
  let dirs: unknown;
  try {
    dirs = JSON.parse(result.stdout.trim().split("\n").pop() ?? "");
  } catch {
    dirs = undefined;
  }
  if (!Array.isArray(dirs)) throw new NativeSetupError(`unexpected answer from ${python} when looking for TensorFlow; ${howTo}`);
  if (dirs.length === 0) throw new NativeSetupError(`no TensorFlow Python package is installed for ${python}; ${howTo}`);
  return String(dirs[0]);
}

/** The Node-API version node-pre-gyp will look for: the highest tfjs-node lists that this Node supports. */
export function napiBuildVersion(listed: readonly number[] = [3, 4, 5, 6, 7, 8], nodeNapi = Number(process.versions.napi)): number {
  const usable = listed.filter((v) => v <= nodeNapi);
  if (usable.length === 0) throw new NativeSetupError(`this Node.js supports Node-API ${nodeNapi}; tfjs-node ${TFJS_NODE_VERSION} needs one of ${listed.join(", ")}`);
  return Math.max(...usable);
}

function installTfjsNode(staging: string, toolchain: Toolchain, run: CommandRunner, log: (line: string) => void): void {
  log(`installing ${TFJS_NODE_PACKAGE}@${TFJS_NODE_VERSION} without its install script (that script is the libtensorflow download) …`);
  mkdirSync(staging, { recursive: true });
  // A private npm prefix of its own: vlmc's package.json, package-lock.json and node_modules stay untouched.
  writeFileSync(
    join(staging, "package.json"),
    JSON.stringify({ name: "vlmc-native", private: true, description: "built by `vlmc setup native`; safe to delete" }, null, 2) + "\n",
  );
  const result = run(
    toolchain.npm,
    ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--save-exact", `${TFJS_NODE_PACKAGE}@${TFJS_NODE_VERSION}`],
    { cwd: staging, timeoutMs: 10 * 60_000 },
  );
  if (result.error || result.status !== 0) {
    const why = result.error?.message ?? lastLines(result.stderr || result.stdout, 6);
    throw new NativeSetupError(`npm could not install ${TFJS_NODE_PACKAGE}@${TFJS_NODE_VERSION} (is the npm registry reachable?):\n${why}`);
  }
  if (!existsSync(join(tfjsNodeDir(staging), "binding.gyp"))) {
    throw new NativeSetupError(`npm finished but ${TFJS_NODE_PACKAGE} has no binding.gyp in ${tfjsNodeDir(staging)}`);
  }
}

/**
 * Replaces tfjs-node's copies of tfjs-core and tfjs-backend-cpu by relative links to vlmc's, so
 * the native backend registers on the engine vlmc uses. The link is computed against the final
 * directory; the staging directory is its sibling, so the same relative path works in both.
 */
function shareTfjsPackages(staging: string, finalDir: string, packageDir: (name: string) => string, log: (line: string) => void): void {
  for (const name of SHARED_PACKAGES) {
    const ours = packageDir(name);
    const ourVersion = packageVersion(ours);
    const nested = join(staging, "node_modules", ...name.split("/"));
    if (existsSync(nested)) {
      const theirVersion = packageVersion(nested);
      if (theirVersion !== ourVersion) {
        throw new NativeSetupError(`${TFJS_NODE_PACKAGE}@${TFJS_NODE_VERSION} brought ${name} ${theirVersion}, but vlmc uses ${ourVersion}; both must be the same version`);
      }
      rmSync(nested, { recursive: true, force: true });
    }
    mkdirSync(dirname(nested), { recursive: true });
    const finalNested = join(finalDir, "node_modules", ...name.split("/"));
    symlinkSync(relative(dirname(finalNested), ours), nested, "dir");
  }
  log(`linked ${SHARED_PACKAGES.join(" and ")} to vlmc's own copies (one tfjs engine in the process)`);
}

function packageVersion(dir: string): string {
  try {
    return String((JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: string }).version);
  } catch {
    throw new NativeSetupError(`cannot read ${join(dir, "package.json")}; run \`npm ci\` in vlmc first`);
  }
}

/** Hard links when the TensorFlow package is on the same file system (no copy of 850 MB), else copies. */
async function layOutDeps(deps: string, files: readonly LayoutFile[], log: (line: string) => void): Promise<void> {
  const libs = files.filter((f) => f.target.startsWith("lib/"));
  const libMiB = Math.round(libs.reduce((n, f) => n + f.size, 0) / 2 ** 20);
  const fromWheel = files.some((f) => "zip" in f.from);
  log(`laying out deps/: ${libs.length} libraries (${libMiB} MiB) and ${files.length - libs.length} C headers${fromWheel ? ", extracted from the wheel" : ""} …`);
  let linked = 0;
  for (const file of files) {
    const to = join(deps, ...file.target.split("/"));
    mkdirSync(dirname(to), { recursive: true });
    if ("zip" in file.from) {
      await extractZipEntry(file.from.zip, file.from.entry, to);
      continue;
    }
    try {
      linkSync(file.from.file, to);
      linked++;
    } catch {
      copyFileSync(file.from.file, to);
    }
  }
  // The binding links -ltensorflow (the C API) and -ltensorflow_framework; the wheel names them differently.
  symlinkSync("libtensorflow_cc.so.2", join(deps, "lib", "libtensorflow.so"));
  symlinkSync("libtensorflow_framework.so.2", join(deps, "lib", "libtensorflow_framework.so"));
  if (!fromWheel) log(linked === files.length ? `  all ${linked} files hard-linked (no copy)` : `  ${linked} of ${files.length} files hard-linked, the rest copied`);
}

function buildBinding(moduleDir: string, napiVersion: number, toolchain: Toolchain, run: CommandRunner, log: (line: string) => void): void {
  log("compiling the binding with node-gyp (about half a minute) …");
  const modulePath = join(moduleDir, "lib", `napi-v${napiVersion}`);
  // The same variables node-pre-gyp passes, so that its find() locates the result at load time.
  const result = run(
    process.execPath,
    [
      toolchain.nodeGyp,
      "rebuild",
      `--nodedir=${toolchain.nodeDir}`,
      "--module_name=tfjs_binding",
      `--module_path=${modulePath}`,
      `--napi_build_version=${napiVersion}`,
    ],
    { cwd: moduleDir, timeoutMs: 15 * 60_000 },
  );
  if (result.error || result.status !== 0) {
    const output = `${result.stdout}\n${result.stderr}`;
    if (/undefined reference to `TF/.test(output)) {
      throw new NativeSetupError("linking failed: this TensorFlow's libtensorflow_cc.so.2 does not export the TensorFlow C API; use the tensorflow-cpu 2.x wheel for Linux");
    }
    const errors = output.split("\n").filter((line) => /error|not found|fatal/i.test(line)).slice(0, 8).join("\n");
    throw new NativeSetupError(`compiling the binding failed:\n${errors || lastLines(output, 10) || result.error?.message}`);
  }
  const binding = join(modulePath, "tfjs_binding.node");
  if (!existsSync(binding)) throw new NativeSetupError(`node-gyp finished but ${binding} is missing`);
  // Intermediate objects and Makefiles with the staging directory's paths: not needed to load.
  rmSync(join(moduleDir, "build"), { recursive: true, force: true });
}

/**
 * Loads the build in a child process (a crash in native code must not take the setup down, and
 * the 850 MB library need not stay mapped here): tfjs-node must register the `tensorflow` backend
 * on vlmc's tfjs-core, and a matmul and a gradient must give the exact answers.
 */
export function verifyBuild(dir: string, ourCoreDir: string, run: CommandRunner): { ok: true } | { ok: false; why: string } {
  const entry = nativeEntry(dir);
  if (!existsSync(entry)) return { ok: false, why: `${entry} is missing` };
  const coreEntry = createRequire(join(ourCoreDir, "package.json")).resolve("@tensorflow/tfjs-core");
  const script = `
    import { createRequire } from "node:module";
    const entry = ${JSON.stringify(entry)};
    const tf = await import(${JSON.stringify(pathToFileURL(coreEntry).href)});
    const theirs = createRequire(entry).resolve("@tensorflow/tfjs-core");
    if (theirs !== ${JSON.stringify(coreEntry)}) throw new Error("tfjs-node resolves another tfjs-core: " + theirs);
    await import(${JSON.stringify(pathToFileURL(entry).href)});
    if (tf.getBackend() !== "tensorflow") throw new Error("the active backend is " + tf.getBackend() + ", not tensorflow");
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const product = Array.from(await tf.matMul(a, a).data());
    const grad = Array.from(await tf.grad((x) => tf.sum(tf.mul(x, x)))(a).data());
    console.log(JSON.stringify({ product, grad }));
  `;
  const result = run(process.execPath, ["--input-type=module", "-e", script], {
    cwd: dir,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? "2" },
    timeoutMs: 120_000,
  });
  if (result.error) return { ok: false, why: result.error.message };
  if (result.status !== 0) {
    const line = (result.stderr.split("\n").find((l) => /Error|error:/.test(l)) ?? lastLines(result.stderr, 1)).trim();
    return { ok: false, why: line || `exit status ${result.status}` };
  }
  try {
    const answer = JSON.parse(result.stdout.trim().split("\n").pop() ?? "") as { product: number[]; grad: number[] };
    if (answer.product.join() === "7,10,15,22" && answer.grad.join() === "2,4,6,8") return { ok: true };
    return { ok: false, why: `wrong answers (matmul ${answer.product.join()}, gradient ${answer.grad.join()})` };
  } catch {
    return { ok: false, why: `no answer from the check (${lastLines(result.stdout, 1)})` };
  }
}

/** Replaces `dir` by `staging` with renames only: a reader sees the old build or the new one. */
function swapIntoPlace(staging: string, dir: string): void {
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(staging, dir);
  rmSync(old, { recursive: true, force: true });
}

/** Staging and old directories left by setups that were killed (their process is gone). */
function removeStaleSiblings(dir: string): void {
  const parent = dirname(dir);
  const prefix = basename(dir);
  for (const name of readdirSync(parent)) {
    const match = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.(tmp|old)-(\\d+)$`).exec(name);
    if (!match || processAlive(Number(match[2]))) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The libraries are ~850 MB; failing up front beats a half-written deps/ directory. */
function checkFreeSpace(dir: string, libBytes: number): void {
  let free: number;
  try {
    const stat = statfsSync(dir);
    free = stat.bavail * stat.bsize;
  } catch {
    return; // Unknown: let the copy itself report a full disk.
  }
  const need = libBytes + 100 * 2 ** 20;
  if (free < need) {
    throw new NativeSetupError(`${dir} has ${Math.round(free / 2 ** 20)} MiB free; the build needs about ${Math.round(need / 2 ** 20)} MiB (less when hard links are possible)`);
  }
}

function lastLines(text: string, n: number): string {
  return text.trim().split("\n").slice(-n).join("\n");
}
