// Finding the TensorFlow C library and headers that tfjs-node's binding compiles against, in a
// TensorFlow Python package: an installed `tensorflow` package directory, a site-packages
// directory holding one, or a wheel file (.whl, read without unpacking it all).
//
// Why the Python wheel: tfjs-node's installer downloads libtensorflow, which fails offline. The
// wheel's libtensorflow_cc.so.2 exports the same C API (TF_*, TFE_*) and ships the C headers, so
// the binding builds against it (../../../shared/notes/tfjs-backends.md has the measurements).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { TFJS_NODE_VERSION } from "./location.js";
import { listZip, ZipError, type ZipEntry } from "./zip.js";

/** The C-API library (`libtensorflow.so` is linked to it) and the framework it needs. */
export const CC_LIBRARY = "libtensorflow_cc.so.2";
export const FRAMEWORK_LIBRARY = "libtensorflow_framework.so.2";
/** Headers the binding includes; the first missing one is named in the error. */
export const REQUIRED_HEADERS = [
  "tensorflow/c/c_api.h",
  "tensorflow/c/eager/c_api.h",
  "tensorflow/core/platform/ctstring_internal.h",
] as const;
/**
 * Header trees copied into deps/include: the C API and what it includes (found with `g++ -M` on
 * the binding's sources against TensorFlow 2.21), not the wheel's 250 MB of C++ headers.
 */
const HEADER_PREFIXES = ["tensorflow/c/", "tensorflow/core/platform/ctstring", "tsl/platform/ctstring", "xla/tsl/c/"];
/** tfjs-node 4.22.0 was released against libtensorflow 2.9.1: older C APIs lack what it calls. */
export const MIN_TENSORFLOW = [2, 9] as const;
const INSTALL_HINT =
  "install the CPU wheel with `pip install tensorflow-cpu` (or fetch it alone with " +
  "`pip download tensorflow-cpu --no-deps -d DIR` and pass --from DIR/tensorflow_cpu-….whl)";

/** A problem with the TensorFlow the user pointed at (or the lack of one): what is missing, what to do. */
export class NativeSetupError extends Error {
  override name = "NativeSetupError";
}

/** One file to place in tfjs-node's deps/ directory, and where its bytes come from. */
export interface LayoutFile {
  /** Path under deps/: `lib/libtensorflow_cc.so.2`, `include/tensorflow/c/c_api.h`, … */
  target: string;
  from: { file: string } | { zip: string; entry: ZipEntry };
  size: number;
}

export interface TensorflowSource {
  kind: "package" | "wheel";
  /** The package directory or wheel file, as found. */
  path: string;
  /** "2.21.0", or null when no version could be read (the build and its check still decide). */
  version: string | null;
  /** Every file of deps/, libraries first. */
  files: LayoutFile[];
  /** Identifies the library bytes the build used (size and mtime of the C-API library's source). */
  stamp: string;
}

/**
 * Reads the TensorFlow at `path`: a .whl file, a `tensorflow` package directory, or a directory
 * holding one (site-packages). Rejects with a NativeSetupError saying what is missing.
 */
export async function findTensorflowSource(path: string, platform: NodeJS.Platform = process.platform): Promise<TensorflowSource> {
  if (platform !== "linux") {
    throw new NativeSetupError(
      `vlmc setup native builds from TensorFlow's Linux wheel; on ${platform}, install @tensorflow/tfjs-node ${TFJS_NODE_VERSION} next to vlmc instead`,
    );
  }
  if (!existsSync(path)) throw new NativeSetupError(`--from ${path}: no such file or directory`);
  const stat = statSync(path);
  if (stat.isFile()) {
    if (!path.endsWith(".whl")) throw new NativeSetupError(`--from ${path}: a file must be a TensorFlow wheel (.whl); ${INSTALL_HINT}`);
    return wheelSource(path);
  }
  const pkg = packageDirIn(path);
  if (pkg === undefined) {
    throw new NativeSetupError(
      `--from ${path}: no TensorFlow package here (expected ${CC_LIBRARY} in it or in a tensorflow/ directory below it); ${INSTALL_HINT}`,
    );
  }
  return packageSource(pkg);
}

/** `dir` itself when it is a tensorflow package, else its `tensorflow/` child when that is one. */
function packageDirIn(dir: string): string | undefined {
  if (looksLikePackage(dir)) return dir;
  const child = join(dir, "tensorflow");
  return looksLikePackage(child) ? child : undefined;
}

function looksLikePackage(dir: string): boolean {
  return existsSync(join(dir, CC_LIBRARY)) || existsSync(join(dir, FRAMEWORK_LIBRARY)) || existsSync(join(dir, "include", "tensorflow"));
}

function packageSource(dir: string): TensorflowSource {
  const version = versionFromDistInfo(dirname(dir));
  checkVersion(version, dir);
  const files: LayoutFile[] = [];
  for (const lib of [CC_LIBRARY, FRAMEWORK_LIBRARY]) {
    const file = join(dir, lib);
    if (!existsSync(file)) throw missingLibrary(lib, dir);
    files.push({ target: `lib/${lib}`, from: { file }, size: statSync(file).size });
  }
  const include = join(dir, "include");
  // Only the directories the wanted headers live in: the full include tree has ~15,000 files.
  const roots = [...new Set(HEADER_PREFIXES.map((prefix) => prefix.slice(0, prefix.lastIndexOf("/"))))];
  const headers = roots
    .flatMap((root) => walkFiles(join(include, ...root.split("/"))))
    .map((file) => relative(include, file).split(sep).join("/"))
    .filter(isWantedHeader)
    .sort();
  checkHeaders(new Set(headers), dir);
  for (const header of headers) {
    const file = join(include, ...header.split("/"));
    files.push({ target: `include/${header}`, from: { file }, size: statSync(file).size });
  }
  const cc = statSync(join(dir, CC_LIBRARY));
  return { kind: "package", path: dir, version, files, stamp: `${cc.size}:${Math.floor(cc.mtimeMs)}` };
}

async function wheelSource(wheel: string): Promise<TensorflowSource> {
  const version = versionFromWheelName(basename(wheel));
  checkWheelPlatform(basename(wheel));
  checkVersion(version, wheel);
  let entries: ZipEntry[];
  try {
    entries = await listZip(wheel);
  } catch (err) {
    const why = err instanceof ZipError ? err.message : err instanceof Error ? err.message : String(err);
    throw new NativeSetupError(`--from ${wheel}: cannot read the wheel (${why}); download it again (${INSTALL_HINT})`);
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  const files: LayoutFile[] = [];
  for (const lib of [CC_LIBRARY, FRAMEWORK_LIBRARY]) {
    const entry = byName.get(`tensorflow/${lib}`);
    if (entry === undefined) throw missingLibrary(lib, wheel);
    files.push({ target: `lib/${lib}`, from: { zip: wheel, entry }, size: entry.size });
  }
  const headers = entries
    .filter((e) => e.name.startsWith("tensorflow/include/") && !e.name.endsWith("/"))
    .map((e) => ({ header: e.name.slice("tensorflow/include/".length), entry: e }))
    .filter(({ header }) => isWantedHeader(header))
    .sort((a, b) => (a.header < b.header ? -1 : 1));
  checkHeaders(new Set(headers.map((h) => h.header)), wheel);
  for (const { header, entry } of headers) files.push({ target: `include/${header}`, from: { zip: wheel, entry }, size: entry.size });
  const stat = statSync(wheel);
  return { kind: "wheel", path: wheel, version, files, stamp: `${stat.size}:${Math.floor(stat.mtimeMs)}` };
}

function isWantedHeader(header: string): boolean {
  return header.endsWith(".h") && HEADER_PREFIXES.some((prefix) => header.startsWith(prefix));
}

function checkHeaders(present: ReadonlySet<string>, where: string): void {
  const missing = REQUIRED_HEADERS.find((h) => !present.has(h));
  if (missing !== undefined) {
    throw new NativeSetupError(
      `${where}: the TensorFlow C headers are missing (no include/${missing}); this TensorFlow package does not ship them — ${INSTALL_HINT}`,
    );
  }
}

function missingLibrary(lib: string, where: string): NativeSetupError {
  const role = lib === CC_LIBRARY ? "the library exporting the TensorFlow C API" : "the TensorFlow framework library";
  return new NativeSetupError(`${where}: ${lib} (${role}) is missing; a TensorFlow 2.x CPU package for Linux has it — ${INSTALL_HINT}`);
}

/** Wheel names are `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl` (PEP 427). */
export function versionFromWheelName(name: string): string | null {
  const parts = name.replace(/\.whl$/, "").split("-");
  return parts.length >= 5 && /^\d+(\.\d+)*/.test(parts[1]!) ? parts[1]! : null;
}

function checkWheelPlatform(name: string): void {
  const platform = name.replace(/\.whl$/, "").split("-").pop() ?? "";
  const arch = process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? "aarch64" : process.arch;
  if (platform !== "" && !(platform.includes("linux") && platform.includes(arch))) {
    throw new NativeSetupError(`${name} is built for ${platform}, not Linux ${arch}; get the wheel for this machine with \`pip download tensorflow-cpu --no-deps -d DIR\``);
  }
}

/** The version recorded by pip next to an installed package (`tensorflow_cpu-2.21.0.dist-info`, …). */
export function versionFromDistInfo(sitePackages: string): string | null {
  let names: string[];
  try {
    names = readdirSync(sitePackages);
  } catch {
    return null;
  }
  for (const name of names.sort()) {
    const match = /^(tensorflow|tensorflow[_-]cpu|tensorflow[_-]intel|tf[_-]nightly(?:[_-]cpu)?)-(\d[^-]*)\.dist-info$/i.exec(name);
    if (!match) continue;
    try {
      const metadata = readFileSync(join(sitePackages, name, "METADATA"), "utf8");
      const version = /^Version:\s*(\S+)/m.exec(metadata)?.[1];
      if (version !== undefined) return version;
    } catch {
      // No METADATA: the directory name still carries the version.
    }
    return match[2]!;
  }
  return null;
}

function checkVersion(version: string | null, where: string): void {
  if (version === null) return;
  const [major, minor] = version.split(".").map((n) => Number.parseInt(n, 10));
  const [wantMajor, wantMinor] = MIN_TENSORFLOW;
  if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) return;
  if (major !== wantMajor || minor < wantMinor) {
    throw new NativeSetupError(
      `${where}: TensorFlow ${version} found; the tfjs-node 4.22.0 binding needs TensorFlow ${wantMajor}.x, ${wantMajor}.${wantMinor} or newer — ${INSTALL_HINT}`,
    );
  }
}

function walkFiles(dir: string): string[] {
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walkFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}
