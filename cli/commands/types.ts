import type { Argv } from "yargs";

/** One CLI command. `handler` returns the process exit code (0 ok, 1 diagnostics/user error, 2 usage). */
export interface VlmcCommand {
  command: string | string[];
  describe: string;
  builder: (y: Argv) => Argv<any>;
  handler: (args: Record<string, any>) => Promise<number | void>;
}
