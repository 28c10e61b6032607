// `vlmc setup native [--from PATH] [--python PY] [--force]`: builds native TensorFlow for
// `--backend tensorflow` from a TensorFlow Python package, without tfjs-node's libtensorflow
// download (runtime/native/setup.ts does the work; this module only wires flags and messages).
import type { Argv } from "yargs";
import { nativeDir } from "../../runtime/native/location.js";
import { NativeSetupError, setupNative, type SetupOptions, type SetupResult } from "../../runtime/native/setup.js";
import { UserError } from "../errors.js";
import type { VlmcCommand } from "./types.js";

export const SETUP_TARGETS = ["native"] as const;

/** Runs the setup and turns every failure into a UserError: the message, never a stack trace. */
export async function runSetup(options: SetupOptions): Promise<SetupResult> {
  try {
    return await setupNative(options);
  } catch (err) {
    if (err instanceof NativeSetupError) throw new UserError(`setup native: ${err.message}`);
    // File-system failures (permissions, a full disk) name their path in the message.
    const text = err instanceof Error ? err.message : String(err);
    throw new UserError(`setup native: ${text}`);
  }
}

export const setupCommand: VlmcCommand = {
  command: "setup <what>",
  describe: "Set up optional parts: `setup native` builds native TensorFlow (--backend tensorflow) from a TensorFlow Python package, no download",
  builder: (y: Argv) =>
    y
      .positional("what", { type: "string", choices: SETUP_TARGETS as unknown as string[], describe: "what to set up", demandOption: true })
      .option("from", {
        type: "string",
        describe: "a tensorflow package directory, a site-packages directory or a tensorflow_cpu-….whl (default: the tensorflow installed for --python)",
      })
      .option("python", { type: "string", default: "python3", describe: "the Python whose installed tensorflow is used when --from is absent" })
      .option("force", { type: "boolean", default: false, describe: "rebuild even if an up-to-date build exists" })
      .example("vlmc setup native", "use the tensorflow (e.g. `pip install tensorflow-cpu`) that python3 has installed")
      .example("vlmc setup native --from ./tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl", "build from a wheel (`pip download tensorflow-cpu --no-deps -d .`)"),
  handler: async (args) => {
    const from = args.from as string | undefined;
    if (from !== undefined && from.trim() === "") throw new UserError("setup native: --from needs a path", 2);
    await runSetup({
      ...(from !== undefined ? { from } : {}),
      python: String(args.python),
      dir: nativeDir(),
      force: Boolean(args.force),
      log: (line) => process.stdout.write(line + "\n"),
    });
    return 0;
  },
};
