// The vlmc command line: parses flags with yargs and delegates each command to its module in
// cli/commands/. Every user error ends as printed diagnostics and a non-zero exit code, never a
// stack trace: commands return their exit code, and UsageError/DataError are caught here.
import yargs from "yargs";
import { commands } from "./commands/index.js";
import { CliExit, reportError } from "./errors.js";

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
      throw new CliExit(2, `error[usage]: ${msg}\n  run 'vlmc --help' or 'vlmc <command> --help' for the options`);
    });
  for (const command of commands) {
    parser.command({
      ...command,
      handler: async (args: Record<string, unknown>) => {
        exitCode = (await command.handler(args)) ?? 0;
      },
    } as never);
  }
  try {
    await parser.parseAsync();
  } catch (err) {
    return reportError(err);
  }
  return exitCode;
}
