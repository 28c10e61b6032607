// The tools `vlmc setup native` runs, found before anything is installed so that a missing one is
// reported up front with what to install, not as a compiler's failure half-way: npm, node-gyp
// (bundled with npm), the Node.js headers node-gyp compiles against, make and a C++ compiler.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import os from "node:os";
import { delimiter, dirname, join } from "node:path";
import { NativeSetupError } from "./tensorflow-source.js";

export interface Toolchain {
  /** The npm command (a path, or `npm` on PATH). */
  npm: string;
  /** node-gyp's JavaScript entry, run with this Node. */
  nodeGyp: string;
  /** A directory with include/node/node_api.h for this Node version (node-gyp's --nodedir). */
  nodeDir: string;
}

/** The first executable called `name` on PATH, or undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Finds every tool or throws a NativeSetupError naming the missing one and how to get it. */
export function findToolchain(env: NodeJS.ProcessEnv = process.env): Toolchain {
  const npm = which("npm", env);
  if (npm === undefined) throw new NativeSetupError("npm is not on PATH; it comes with Node.js — install Node.js 20 with npm");
  const nodeGyp = findNodeGyp(npm, env);
  if (nodeGyp === undefined) {
    throw new NativeSetupError("node-gyp was not found (it ships inside npm); install it with `npm install -g node-gyp`");
  }
  const nodeDir = findNodeHeaders(env);
  if (nodeDir === undefined) {
    throw new NativeSetupError(
      `the Node.js ${process.version} headers (include/node/node_api.h) were not found next to ${process.execPath}; ` +
        "install your distribution's Node.js development files (e.g. the nodejs or libnode-dev package), " +
        "or fetch them once with `npx node-gyp install` where the network is reachable",
    );
  }
  const compiler = env.CXX !== undefined && env.CXX !== "" ? env.CXX.split(" ")[0]! : "g++";
  if (!compiler.includes("/") && which(compiler, env) === undefined && which("c++", env) === undefined) {
    throw new NativeSetupError(`no C++ compiler (${compiler}) on PATH; install one, e.g. \`apt-get install g++ make\``);
  }
  if (which("make", env) === undefined) throw new NativeSetupError("make is not on PATH; install it, e.g. `apt-get install make`");
  return { npm, nodeGyp, nodeDir };
}

function findNodeGyp(npm: string, env: NodeJS.ProcessEnv): string | undefined {
  const candidates: string[] = [];
  // Set by npm for its scripts (and by users who keep their own node-gyp).
  if (env.npm_config_node_gyp) candidates.push(env.npm_config_node_gyp);
  try {
    // npm on PATH is usually a link to <npm>/bin/npm-cli.js; node-gyp is in <npm>/node_modules.
    candidates.push(join(dirname(dirname(realpathSync(npm))), "node_modules", "node-gyp", "bin", "node-gyp.js"));
  } catch {
    // A broken link: try the other places.
  }
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  candidates.push(join(dirname(process.execPath), "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  const onPath = which("node-gyp", env);
  if (onPath !== undefined) {
    try {
      candidates.push(realpathSync(onPath));
    } catch {
      // Ignore a dangling link.
    }
  }
  return candidates.find((c) => c.endsWith(".js") && existsSync(c));
}

/**
 * node-gyp downloads the Node headers unless told where they are: the install prefix of this
 * Node (distribution packages put them in /usr/include/node) or node-gyp's own cache.
 */
function findNodeHeaders(env: NodeJS.ProcessEnv): string | undefined {
  const version = process.version.slice(1);
  const cache = env.npm_config_devdir ?? join(os.homedir(), ".cache", "node-gyp");
  const candidates = [dirname(dirname(process.execPath)), join(cache, version)];
  return candidates.find((dir) => headersVersion(dir) === version);
}

function headersVersion(dir: string): string | undefined {
  const file = join(dir, "include", "node", "node_version.h");
  if (!existsSync(join(dir, "include", "node", "node_api.h")) || !existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8");
  const part = (name: string) => new RegExp(`#define NODE_${name}_VERSION (\\d+)`).exec(text)?.[1];
  const [major, minor, patch] = [part("MAJOR"), part("MINOR"), part("PATCH")];
  return major !== undefined && minor !== undefined && patch !== undefined ? `${major}.${minor}.${patch}` : undefined;
}
