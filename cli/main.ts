// The vlmc command line: parses flags with yargs and delegates each command to its module in
// cli/commands/. Every user error ends as printed diagnostics and a non-zero exit code, never a
// stack trace: commands return their exit code, and UsageError/DataError are caught here.
//
// Only the command being run is loaded (see cli/commands/index.ts); the others are registered by
// name and description so that help and "did you mean" still know them.
import yargs from "yargs";
import { commandEntries, commandName, type CommandEntry } from "./commands/index.js";
import type { VlmcCommand } from "./commands/types.js";
import { CliExit, reportError } from "./errors.js";

/** The entry whose command word is the first non-flag argument, if any. */
function invokedEntry(argv: string[]): CommandEntry | undefined {
  const word = argv.find((a) => !a.startsWith("-"));
  return commandEntries.find((entry) => commandName(entry) === word);
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const parser = yargs(argv)
    .scriptName("vlmc")
    .usage("$0 <command> [options]\n\nA compiler for vision and vision-language model specs (.vlm).")
    .strict()
    .demandCommand(1, "Give a command: vlmc <command> --help lists the options of each.")
    .recommendCommands()
    .help()
    .alias("h", "help")
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // yargs reports unknown flags, missing arguments and bad choices here: usage errors, exit 2.
      if (err) throw err;
      const word = argv.find((a) => !a.startsWith("-"));
      const unknown = word !== undefined && invokedEntry(argv) === undefined ? `unknown command '${word}'. ` : "";
      throw new CliExit(2, `error[usage]: ${unknown}${msg}\n  run 'vlmc --help' or 'vlmc <command> --help' for the options`);
    });
  try {
    const invoked = invokedEntry(argv);
    const loaded: VlmcCommand | undefined = invoked ? await invoked.load() : undefined;
    for (const entry of commandEntries) {
      if (entry === invoked && loaded) {
        parser.command({
          ...loaded,
          handler: async (args: Record<string, unknown>) => {
            exitCode = (await loaded.handler(args)) ?? 0;
          },
        } as never);
      } else {
        // Listed for help and suggestions only: it is never the command being run.
        parser.command(entry.command, entry.describe);
      }
    }
    await parser.parseAsync();
  } catch (err) {
    return reportError(err);
  }
  return exitCode;
}
