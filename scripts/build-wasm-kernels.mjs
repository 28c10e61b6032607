#!/usr/bin/env node
// Builds runtime/wasm-simd/kernels.wasm from its C sources (kernels.c, elementwise.c, matmul.c,
// conv2d.c) with clang-14, and checks that the binary can only write through its pointer arguments (it runs on
// tfjs-backend-wasm's memory, whose data starts at address 0 where a C stack or data segments
// would land).
//
//   node scripts/build-wasm-kernels.mjs              build the committed kernels.wasm and check it
//   node scripts/build-wasm-kernels.mjs --out FILE   build into FILE instead (test: is it up to date?)
//   node scripts/build-wasm-kernels.mjs --check FILE only check FILE (exit 1 with the problems)
//
// A second module, kernels-shared.wasm, is matmul.c, conv2d.c and kernels.c built for a shared
// memory (atomics, bulk memory; it imports a shared env.memory of at most SHARED_MAX_BYTES): runtime/wasm-simd/
// threads.ts runs it on a memory shared with a worker thread. It gets the same check (no stack, no
// data segments, only the memory import, which must be shared). The default build writes both;
// --out/--check only the first; --out-shared FILE / --check-shared FILE the shared one.
//
// wasm-ld always defines a __stack_pointer global, used or not. The build drops the global (and
// the unused function table) section; the check then demands no global, data, memory or start
// section and a module that validates — with no globals at all, a function touching the stack
// pointer would not validate, so passing proves the code uses no linear-memory stack.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sources = ["kernels.c", "elementwise.c", "matmul.c", "conv2d.c"].map((f) => join(root, "runtime/wasm-simd", f));
const committed = join(root, "runtime/wasm-simd/kernels.wasm");
const sharedSources = ["matmul.c", "conv2d.c", "kernels.c"].map((f) => join(root, "runtime/wasm-simd", f));
const committedShared = join(root, "runtime/wasm-simd/kernels-shared.wasm");
/** The shared module's maximum memory (threads.ts creates its memory with this maximum). */
const SHARED_MAX_BYTES = 1 << 30;

const SECTION = { custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7, start: 8, element: 9, code: 10, data: 11, dataCount: 12 };
const ALLOWED = new Set([SECTION.custom, SECTION.type, SECTION.import, SECTION.function, SECTION.export, SECTION.code]);

function leb(bytes, at) {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return { value, at };
}

/** The module's sections: id and the byte range of each, header included. */
function sections(bytes) {
  const out = [];
  for (let at = 8; at < bytes.length;) {
    const id = bytes[at];
    const size = leb(bytes, at + 1);
    out.push({ id, start: at, end: size.at + size.value });
    at = size.at + size.value;
  }
  return out;
}

/** What makes `bytes` unsafe to run on tfjs's memory; empty when it is fine. */
function problems(bytes) {
  const found = [];
  if (!WebAssembly.validate(bytes)) return ["does not validate (a reference to a removed global?)"];
  for (const s of sections(bytes)) {
    if (!ALLOWED.has(s.id)) found.push(`section ${Object.keys(SECTION).find((k) => SECTION[k] === s.id) ?? s.id} present`);
  }
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
  if (imports.length !== 1 || imports[0].module !== "env" || imports[0].name !== "memory" || imports[0].kind !== "memory") {
    found.push(`imports ${JSON.stringify(imports)}, expected only env.memory`);
  }
  return found;
}

function build(out, srcs = sources, extra = []) {
  const tmp = mkdtempSync(join(tmpdir(), "vlmc-wasm-"));
  try {
    const linked = join(tmp, "linked.wasm");
    execFileSync("clang-14", [
      "--target=wasm32", "-O3", "-msimd128", "-nostdlib", "-ffreestanding", "-fno-builtin", "-Wall", "-Wextra", "-Werror",
      "-Wl,--no-entry", "-Wl,--import-memory", "-Wl,--strip-all", ...extra,
      "-o", linked, ...srcs,
    ], { stdio: "inherit" });
    const bytes = readFileSync(linked);
    const kept = sections(bytes).filter((s) => s.id !== SECTION.global && s.id !== SECTION.table);
    writeFileSync(out, Buffer.concat([bytes.subarray(0, 8), ...kept.map((s) => bytes.subarray(s.start, s.end))]));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** problems(), plus: the imported memory must be shared (the module was built for threads). */
function sharedProblems(bytes) {
  const found = problems(bytes);
  if (found.length > 0) return found;
  try {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: SHARED_MAX_BYTES / 65536, shared: true });
    new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  } catch (e) {
    found.push(`does not instantiate on a shared memory: ${e.message}`);
  }
  return found;
}

const args = process.argv.slice(2);
if (args[0] === "--out-shared" || args[0] === "--check-shared") {
  const file = args[1];
  if (!file) throw new Error("usage: build-wasm-kernels.mjs [--out-shared FILE | --check-shared FILE]");
  if (args[0] === "--out-shared") buildShared(file);
  const found = sharedProblems(readFileSync(file));
  if (found.length > 0) {
    console.error(`${file}: unsafe:\n  ${found.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`${file}: ok`);
  process.exit(0);
}

function buildShared(out) {
  build(out, sharedSources, ["-matomics", "-mbulk-memory", "-Wl,--shared-memory", `-Wl,--max-memory=${SHARED_MAX_BYTES}`]);
}
const checkOnly = args[0] === "--check";
const target = args[0] === "--out" || checkOnly ? args[1] : committed;
if (!target) throw new Error("usage: build-wasm-kernels.mjs [--out FILE | --check FILE]");
if (!checkOnly) build(target);
const found = problems(readFileSync(target));
if (found.length > 0) {
  console.error(`${target}: unsafe on tfjs's memory:\n  ${found.join("\n  ")}`);
  process.exit(1);
}
console.log(`${target}: ok`);
if (args.length === 0) {
  buildShared(committedShared);
  const sharedFound = sharedProblems(readFileSync(committedShared));
  if (sharedFound.length > 0) {
    console.error(`${committedShared}: unsafe:\n  ${sharedFound.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`${committedShared}: ok`);
}
