// Where `vlmc setup native` puts its build of @tensorflow/tfjs-node, and how a finished build is
// recognised. Shared by the setup (which writes it) and runtime/backend.ts (which loads it), so
// that both agree on one layout.
//
// The build lives in its own npm prefix (`.vlmc-native/` in the vlmc package root, or
// $VLMC_NATIVE_DIR), never in vlmc's node_modules: `npm ci` wipes node_modules and must never try
// to fetch libtensorflow, and package-lock.json must not learn about tfjs-node.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The tfjs-node release whose binding is built: the one matching vlmc's pinned tfjs-core. */
export const TFJS_NODE_VERSION = "4.22.0";
export const TFJS_NODE_PACKAGE = "@tensorflow/tfjs-node";
/** Written last by the setup: its presence means the build finished and passed its check. */
export const MANIFEST_FILE = "vlmc-native.json";
export const NATIVE_DIR_NAME = ".vlmc-native";

export interface NativeManifest {
  tfjs_node: string;
  tensorflow: string | null;
  /** Where the libraries came from (a package directory or a wheel), for the user's information. */
  source: string;
  /** Size and mtime of the C-API library it was built from: a changed source means a rebuild. */
  source_stamp: string;
  napi_version: number;
  node: string;
  built_at: string;
}

/** The vlmc package root: the nearest directory above this module whose package.json names vlmc. */
export function vlmcRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "vlmc") return dir;
      } catch {
        // An unreadable package.json above us is not vlmc's: keep looking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return from;
    dir = parent;
  }
}

/** The directory of the native build: $VLMC_NATIVE_DIR, else `.vlmc-native/` in the vlmc root. */
export function nativeDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.VLMC_NATIVE_DIR;
  return override !== undefined && override !== "" ? override : join(vlmcRoot(), NATIVE_DIR_NAME);
}

/** tfjs-node's package directory inside a native build directory. */
export function tfjsNodeDir(dir: string): string {
  return join(dir, "node_modules", ...TFJS_NODE_PACKAGE.split("/"));
}

/** The module to import to load the built binding. */
export function nativeEntry(dir: string): string {
  return join(tfjsNodeDir(dir), "dist", "index.js");
}

/** The manifest of a finished build in `dir`, or undefined when there is none (or it is unreadable). */
export function readManifest(dir: string): NativeManifest | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), "utf8")) as Partial<NativeManifest>;
    return typeof parsed.tfjs_node === "string" ? (parsed as NativeManifest) : undefined;
  } catch {
    return undefined;
  }
}
