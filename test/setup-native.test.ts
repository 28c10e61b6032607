// `vlmc setup native` without TensorFlow, npm, a compiler or the network: where it finds the
// TensorFlow C library and headers (fake package, site-packages and wheel trees in a temp dir),
// every error a user can meet, and the build's orchestration (staging, links to vlmc's tfjs-core,
// manifest, idempotence, nothing left behind on failure) with a fake command runner.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { deflateRawSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { runSetup } from "../cli/commands/setup.js";
import { UserError } from "../cli/errors.js";
import { MANIFEST_FILE, nativeEntry, readManifest, tfjsNodeDir } from "../runtime/native/location.js";
import {
  locateInstalledTensorflow,
  napiBuildVersion,
  setupNative,
  type CommandRunner,
  type RunResult,
  type SetupOptions,
} from "../runtime/native/setup.js";
import { findTensorflowSource, NativeSetupError, versionFromDistInfo, versionFromWheelName } from "../runtime/native/tensorflow-source.js";
import { extractZipEntry, listZip } from "../runtime/native/zip.js";

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "vlmc-setup-native-"));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function put(path: string, content = "x"): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

const HEADERS = [
  "tensorflow/c/c_api.h",
  "tensorflow/c/eager/c_api.h",
  "tensorflow/c/tf_status.h",
  "tensorflow/core/platform/ctstring.h",
  "tensorflow/core/platform/ctstring_internal.h",
  "tsl/platform/ctstring.h",
  "xla/tsl/c/tsl_status.h",
];
/** Headers a real wheel has that the binding does not need: never copied. */
const UNWANTED = ["tensorflow/core/framework/tensor.h", "Eigen/Core", "tensorflow/c/README.md"];

/** A site-packages directory holding a fake `tensorflow` package, as pip installs it. */
function fakeSitePackages(options: { version?: string | null; without?: string[] } = {}): string {
  const site = join(work, "site-packages");
  const pkg = join(site, "tensorflow");
  const files: Record<string, string> = {
    "libtensorflow_cc.so.2": "cc-library",
    "libtensorflow_framework.so.2": "framework-library",
    ...Object.fromEntries([...HEADERS, ...UNWANTED].map((h) => [`include/${h}`, `// ${h}`])),
  };
  for (const [name, content] of Object.entries(files)) if (!options.without?.includes(name)) put(join(pkg, name), content);
  const version = options.version === undefined ? "2.21.0" : options.version;
  if (version !== null) put(join(site, `tensorflow_cpu-${version}.dist-info`, "METADATA"), `Metadata-Version: 2.1\nName: tensorflow-cpu\nVersion: ${version}\n`);
  return site;
}

/** A minimal zip writer (deflated members), enough to make fake wheels. */
function writeZip(path: string, members: Record<string, string>): void {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(members)) {
    const data = Buffer.from(content);
    const packed = deflateRawSync(data);
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, packed);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(members).length, 8);
  end.writeUInt16LE(Object.keys(members).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(path, Buffer.concat([...locals, cd, end]));
}

function fakeWheel(name = "tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl", without: string[] = []): string {
  const members: Record<string, string> = {
    "tensorflow/libtensorflow_cc.so.2": "cc-library",
    "tensorflow/libtensorflow_framework.so.2": "framework-library",
    "tensorflow/__init__.py": "",
    "tensorflow_cpu-2.21.0.dist-info/METADATA": "Version: 2.21.0\n",
    ...Object.fromEntries([...HEADERS, ...UNWANTED].map((h) => [`tensorflow/include/${h}`, `// ${h}`])),
  };
  for (const name of without) delete members[name];
  const path = join(work, name);
  writeZip(path, members);
  return path;
}

describe("finding TensorFlow's C library and headers", () => {
  test("in a site-packages directory: the libraries first, then only the C-API headers, with the version pip recorded", async () => {
    const source = await findTensorflowSource(fakeSitePackages(), "linux");
    expect(source.kind).toBe("package");
    expect(source.path).toBe(join(work, "site-packages", "tensorflow"));
    expect(source.version).toBe("2.21.0");
    expect(source.files.map((f) => f.target)).toEqual([
      "lib/libtensorflow_cc.so.2",
      "lib/libtensorflow_framework.so.2",
      ...HEADERS.map((h) => `include/${h}`).sort(),
    ]);
  });

  test("in the tensorflow package directory itself", async () => {
    const source = await findTensorflowSource(join(fakeSitePackages(), "tensorflow"), "linux");
    expect(source.path).toBe(join(work, "site-packages", "tensorflow"));
    expect(source.files).toHaveLength(2 + HEADERS.length);
  });

  test("without a version record the version is unknown, not a failure", async () => {
    expect((await findTensorflowSource(fakeSitePackages({ version: null }), "linux")).version).toBeNull();
  });

  test("in a wheel, read without unpacking it", async () => {
    const wheel = fakeWheel();
    const source = await findTensorflowSource(wheel, "linux");
    expect(source.kind).toBe("wheel");
    expect(source.version).toBe("2.21.0");
    expect(source.files.map((f) => f.target)).toEqual([
      "lib/libtensorflow_cc.so.2",
      "lib/libtensorflow_framework.so.2",
      ...HEADERS.map((h) => `include/${h}`).sort(),
    ]);
    const lib = source.files[0]!;
    expect("zip" in lib.from).toBe(true);
    if (!("zip" in lib.from)) return;
    const out = join(work, "extracted");
    await extractZipEntry(lib.from.zip, lib.from.entry, out);
    expect(readFileSync(out, "utf8")).toBe("cc-library");
  });

  test.each([
    ["a missing C-API library", { without: ["libtensorflow_cc.so.2"] }, /libtensorflow_cc\.so\.2 \(the library exporting the TensorFlow C API\) is missing.*pip install tensorflow-cpu/],
    ["a missing framework library", { without: ["libtensorflow_framework.so.2"] }, /libtensorflow_framework\.so\.2 .* is missing/],
    ["missing C headers", { without: ["include/tensorflow/c/eager/c_api.h"] }, /C headers are missing \(no include\/tensorflow\/c\/eager\/c_api\.h\)/],
    ["a TensorFlow too old for the binding", { version: "2.5.0" }, /TensorFlow 2\.5\.0 found; .* 2\.9 or newer/],
    ["another major version", { version: "3.0.0" }, /TensorFlow 3\.0\.0 found/],
  ])("a package with %s is refused with what to do", async (_what, options, message) => {
    const site = fakeSitePackages(options);
    await expect(findTensorflowSource(site, "linux")).rejects.toThrow(NativeSetupError);
    await expect(findTensorflowSource(site, "linux")).rejects.toThrow(message);
  });

  test("wheels that cannot serve are refused: missing members, another platform, not a zip", async () => {
    await expect(findTensorflowSource(fakeWheel(undefined, ["tensorflow/libtensorflow_cc.so.2"]), "linux")).rejects.toThrow(/libtensorflow_cc\.so\.2 .* is missing/);
    await expect(findTensorflowSource(fakeWheel("tensorflow-2.21.0-cp311-cp311-macosx_12_0_arm64.whl"), "linux")).rejects.toThrow(/built for macosx_12_0_arm64, not Linux/);
    const broken = join(work, "tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl");
    writeFileSync(broken, "not a zip at all");
    await expect(findTensorflowSource(broken, "linux")).rejects.toThrow(/cannot read the wheel \(not a zip archive.*download it again/);
  });

  test("paths that hold no TensorFlow: each says what was expected", async () => {
    await expect(findTensorflowSource(join(work, "nowhere"), "linux")).rejects.toThrow(/--from .*nowhere: no such file or directory/);
    mkdirSync(join(work, "empty"));
    await expect(findTensorflowSource(join(work, "empty"), "linux")).rejects.toThrow(/no TensorFlow package here \(expected libtensorflow_cc\.so\.2.*pip install tensorflow-cpu/);
    put(join(work, "notes.txt"));
    await expect(findTensorflowSource(join(work, "notes.txt"), "linux")).rejects.toThrow(/a file must be a TensorFlow wheel \(\.whl\)/);
  });

  test("only Linux wheels are used: elsewhere the message points at tfjs-node itself", async () => {
    await expect(findTensorflowSource(fakeSitePackages(), "darwin")).rejects.toThrow(/on darwin, install @tensorflow\/tfjs-node 4\.22\.0/);
  });

  test("versions from wheel names and dist-info directories", () => {
    expect(versionFromWheelName("tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl")).toBe("2.21.0");
    expect(versionFromWheelName("tensorflow-2.16.1-1-cp310-cp310-manylinux_2_17_x86_64.whl")).toBe("2.16.1");
    expect(versionFromWheelName("tensorflow.whl")).toBeNull();
    const site = join(work, "sp");
    mkdirSync(join(site, "tensorflow-2.18.0.dist-info"), { recursive: true }); // no METADATA: the name says it
    mkdirSync(join(site, "tensorboard-2.18.0.dist-info"), { recursive: true });
    expect(versionFromDistInfo(site)).toBe("2.18.0");
    expect(versionFromDistInfo(join(work, "none"))).toBeNull();
  });

  test("the zip reader lists members with their sizes", async () => {
    const entries = await listZip(fakeWheel());
    const cc = entries.find((e) => e.name === "tensorflow/libtensorflow_cc.so.2");
    expect(cc).toMatchObject({ method: 8, size: "cc-library".length, mode: 0o644 });
  });

  test("the zip reader refuses files that are not zips, truncated or corrupt, with a ZipError", async () => {
    const wheel = fakeWheel();
    const bytes = readFileSync(wheel);
    const notZip = join(work, "not.zip");
    writeFileSync(notZip, "not a zip at all");
    await expect(listZip(notZip)).rejects.toThrow(expect.objectContaining({ name: "ZipError", message: expect.stringMatching(/^not a zip archive/) }));
    const truncated = join(work, "truncated.zip");
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(listZip(truncated)).rejects.toThrow(/not a zip archive, or a truncated one/);
    // The central directory's first record, its signature overwritten.
    const cdOffset = bytes.readUInt32LE(bytes.length - 22 + 16);
    const badDirectory = Buffer.from(bytes);
    badDirectory.writeUInt32LE(0, cdOffset);
    const corrupt = join(work, "corrupt.zip");
    writeFileSync(corrupt, badDirectory);
    await expect(listZip(corrupt)).rejects.toThrow(expect.objectContaining({ name: "ZipError", message: expect.stringMatching(/^corrupt or truncated zip archive: /) }));
    // A member's deflated data overwritten with an invalid deflate block: extraction fails with its name.
    const entries = await listZip(wheel);
    const cc = entries.find((e) => e.name === "tensorflow/libtensorflow_cc.so.2")!;
    const dataStart = cc.localOffset + 30 + bytes.readUInt16LE(cc.localOffset + 26) + bytes.readUInt16LE(cc.localOffset + 28);
    const badData = Buffer.from(bytes);
    badData.fill(0xff, dataStart, dataStart + cc.compressedSize);
    writeFileSync(wheel, badData);
    await expect(extractZipEntry(wheel, cc, join(work, "out"))).rejects.toThrow(/^tensorflow\/libtensorflow_cc\.so\.2: corrupt or truncated zip archive: /);
  });
});

function result(partial: Partial<RunResult>): RunResult {
  return { status: 0, stdout: "", stderr: "", ...partial };
}

describe("asking Python where tensorflow is installed", () => {
  test("the first package location find_spec reports, without importing tensorflow", () => {
    const calls: string[][] = [];
    const run: CommandRunner = (command, args) => {
      calls.push([command, ...args]);
      return result({ stdout: '["/site/tensorflow"]\n' });
    };
    expect(locateInstalledTensorflow("python3", run)).toBe("/site/tensorflow");
    expect(calls[0]![0]).toBe("python3");
    expect(calls[0]!.join(" ")).toMatch(/find_spec\('tensorflow'\)/);
    expect(calls[0]!.join(" ")).not.toMatch(/import tensorflow/);
  });

  test("no tensorflow, no python, a failing python: each says how to get TensorFlow", () => {
    expect(() => locateInstalledTensorflow("python3", () => result({ stdout: "[]\n" }))).toThrow(/no TensorFlow Python package is installed for python3; install it with `pip install tensorflow-cpu`, or pass --from/);
    const enoent = Object.assign(new Error("spawn py ENOENT"), { code: "ENOENT" });
    expect(() => locateInstalledTensorflow("py", () => result({ status: null, error: enoent }))).toThrow(/py was not found.*pip install tensorflow-cpu/);
    expect(() => locateInstalledTensorflow("python3", () => result({ status: 1, stderr: "SyntaxError: bad" }))).toThrow(/could not ask python3 for its TensorFlow \(SyntaxError: bad\)/);
    expect(() => locateInstalledTensorflow("python3", () => result({ stdout: "banner" }))).toThrow(/unexpected answer from python3/);
  });
});

test("the Node-API version is the highest tfjs-node lists that this Node supports", () => {
  expect(napiBuildVersion([3, 4, 5, 6, 7, 8], 9)).toBe(8);
  expect(napiBuildVersion([3, 4, 5, 6, 7, 8], 6)).toBe(6);
  expect(() => napiBuildVersion([7, 8], 5)).toThrow(/needs one of 7, 8/);
});

describe("the build, with a fake npm, node-gyp and check", () => {
  /** vlmc's own tfjs packages, as the setup links tfjs-node to them. */
  function fakeVlmcPackages(version = "4.22.0"): (name: string) => string {
    const root = join(work, "vlmc", "node_modules");
    for (const name of ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu"]) {
      const dir = join(root, ...name.split("/"));
      put(join(dir, "package.json"), JSON.stringify({ name, version, main: "index.js" }));
      put(join(dir, "index.js"), "");
    }
    return (name) => join(root, ...name.split("/"));
  }

  interface Fake {
    run: CommandRunner;
    calls: string[];
    failBuild?: string;
    nestedCoreVersion?: string;
    checkAnswer?: string;
  }

  function fakeRunner(): Fake {
    const fake: Fake = {
      calls: [],
      run: (command, args, options) => {
        const cwd = options.cwd ?? "";
        if (args[0] === "install") {
          fake.calls.push("npm install");
          const pkg = tfjsNodeDir(cwd);
          put(join(pkg, "binding.gyp"), "{}");
          put(join(pkg, "dist", "index.js"), "");
          for (const name of ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu"]) {
            put(join(cwd, "node_modules", ...name.split("/"), "package.json"), JSON.stringify({ name, version: fake.nestedCoreVersion ?? "4.22.0" }));
          }
          return result({});
        }
        if (args.includes("rebuild")) {
          fake.calls.push("node-gyp rebuild");
          if (fake.failBuild) return result({ status: 1, stderr: fake.failBuild });
          const modulePath = args.find((a) => a.startsWith("--module_path="))!.slice("--module_path=".length);
          put(join(modulePath, "tfjs_binding.node"), "binary");
          put(join(cwd, "build", "Makefile"), "");
          return result({});
        }
        if (args[0] === "--input-type=module") {
          fake.calls.push("check");
          return result({ stdout: fake.checkAnswer ?? JSON.stringify({ product: [7, 10, 15, 22], grad: [2, 4, 6, 8] }) + "\n" });
        }
        throw new Error(`unexpected command ${command} ${args.join(" ")}`);
      },
    };
    return fake;
  }

  function options(fake: Fake, extra: Partial<SetupOptions> = {}): SetupOptions & { lines: string[] } {
    const lines: string[] = [];
    return {
      // Made only when not given: rewriting the wheel would change its stamp.
      from: "from" in extra ? extra.from : fakeWheel(),
      python: "python3",
      dir: join(work, "vlmc", ".vlmc-native"),
      force: false,
      log: (line) => lines.push(line),
      run: fake.run,
      toolchain: () => ({ npm: "npm", nodeGyp: "/fake/node-gyp.js", nodeDir: "/fake/node" }),
      resolvePackageDir: fakeVlmcPackages(),
      lines,
      ...extra,
    };
  }

  test("lays out deps/, links vlmc's tfjs-core, checks, writes the manifest last, leaves no staging behind", async () => {
    const fake = fakeRunner();
    const opts = options(fake);
    const { manifest, unchanged } = await setupNative(opts);
    expect(unchanged).toBe(false);
    expect(fake.calls).toEqual(["npm install", "node-gyp rebuild", "check"]);
    expect(manifest).toMatchObject({ tfjs_node: "4.22.0", tensorflow: "2.21.0", napi_version: napiBuildVersion() });
    expect(readManifest(opts.dir)).toEqual(manifest);
    const deps = join(tfjsNodeDir(opts.dir), "deps");
    expect(readFileSync(join(deps, "lib", "libtensorflow_cc.so.2"), "utf8")).toBe("cc-library");
    expect(readlinkSync(join(deps, "lib", "libtensorflow.so"))).toBe("libtensorflow_cc.so.2");
    expect(readlinkSync(join(deps, "lib", "libtensorflow_framework.so"))).toBe("libtensorflow_framework.so.2");
    expect(existsSync(join(deps, "include", "tensorflow", "c", "eager", "c_api.h"))).toBe(true);
    expect(existsSync(join(deps, "include", "tensorflow", "core", "framework", "tensor.h"))).toBe(false);
    // One tfjs engine: tfjs-node's tfjs-core is a relative link to vlmc's.
    const nested = join(opts.dir, "node_modules", "@tensorflow", "tfjs-core");
    expect(lstatSync(nested).isSymbolicLink()).toBe(true);
    expect(readlinkSync(nested).startsWith("/")).toBe(false);
    expect(realpathSync(nested)).toBe(realpathSync(join(work, "vlmc", "node_modules", "@tensorflow", "tfjs-core")));
    expect(existsSync(join(tfjsNodeDir(opts.dir), "build"))).toBe(false);
    expect(existsSync(nativeEntry(opts.dir))).toBe(true);
    expect(readdirSync(join(work, "vlmc")).sort()).toEqual([".vlmc-native", "node_modules"]);
    expect(opts.lines.join("\n")).toMatch(/tensorflow: 2\.21\.0 \(wheel .*\)\ninstalling @tensorflow\/tfjs-node@4\.22\.0 without its install script/);
    expect(opts.lines.at(-1)).toMatch(/^done: native TensorFlow 2\.21\.0 is set up in .*`--backend auto` now uses it/);
  });

  test("re-running is idempotent: an up-to-date build that loads is kept; --force rebuilds", async () => {
    const fake = fakeRunner();
    const from = fakeWheel();
    const first = await setupNative(options(fake, { from }));
    fake.calls.length = 0;
    const again = options(fake, { from });
    const second = await setupNative(again);
    expect(second).toEqual({ manifest: first.manifest, unchanged: true });
    expect(fake.calls).toEqual(["check"]);
    expect(again.lines.at(-1)).toMatch(/already set up .* nothing to do \(--force rebuilds\)/);
    fake.calls.length = 0;
    const forced = await setupNative(options(fake, { from, force: true }));
    expect(forced.unchanged).toBe(false);
    expect(fake.calls).toEqual(["npm install", "node-gyp rebuild", "check"]);
  });

  test("a failed build keeps the previous one and leaves no staging directory", async () => {
    const fake = fakeRunner();
    const opts = options(fake);
    const { manifest } = await setupNative(opts);
    fake.failBuild = "/usr/bin/ld: tfjs_backend.o: undefined reference to `TF_NewStatus'\ncollect2: error: ld returned 1 exit status";
    await expect(setupNative(options(fake, { force: true }))).rejects.toThrow(/does not export the TensorFlow C API/);
    expect(readManifest(opts.dir)).toEqual(manifest);
    expect(readdirSync(join(work, "vlmc")).sort()).toEqual([".vlmc-native", "node_modules"]);
  });

  test("compiler errors, npm failures, a failing check and a tfjs-core version clash are explained", async () => {
    const compile = fakeRunner();
    compile.failBuild = "binding/tfjs_backend.cc:18:10: fatal error: tensorflow/c/c_api.h: No such file or directory";
    await expect(setupNative(options(compile))).rejects.toThrow(/compiling the binding failed:\n.*fatal error: tensorflow\/c\/c_api\.h/);

    const npm = fakeRunner();
    const failingNpm: CommandRunner = (command, args, o) =>
      args[0] === "install" ? result({ status: 1, stderr: "npm error code ENOTFOUND" }) : npm.run(command, args, o);
    await expect(setupNative(options(npm, { run: failingNpm }))).rejects.toThrow(/npm could not install @tensorflow\/tfjs-node@4\.22\.0 \(is the npm registry reachable\?\):\nnpm error code ENOTFOUND/);

    const check = fakeRunner();
    check.checkAnswer = JSON.stringify({ product: [0, 0, 0, 0], grad: [2, 4, 6, 8] });
    await expect(setupNative(options(check))).rejects.toThrow(/the built binding does not work: wrong answers \(matmul 0,0,0,0/);

    const clash = fakeRunner();
    clash.nestedCoreVersion = "4.21.0";
    await expect(setupNative(options(clash))).rejects.toThrow(/brought @tensorflow\/tfjs-core 4\.21\.0, but vlmc uses 4\.22\.0/);
    expect(existsSync(join(work, "vlmc", ".vlmc-native"))).toBe(false);
    expect(readdirSync(join(work, "vlmc"))).toEqual(["node_modules"]);
  });

  test("the CLI wrapper turns every failure into a one-line user error", async () => {
    const fake = fakeRunner();
    const err = await runSetup(options(fake, { from: join(work, "missing") })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/^setup native: --from .*missing: no such file or directory$/);
  });

  test("the manifest is what marks a finished build", () => {
    const dir = join(work, "partial");
    mkdirSync(dir);
    expect(readManifest(dir)).toBeUndefined();
    writeFileSync(join(dir, MANIFEST_FILE), "{ not json");
    expect(readManifest(dir)).toBeUndefined();
  });
});
