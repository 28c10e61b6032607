// The command table in cli/commands/index.ts repeats each command's name and description so that
// help needs no module loads; this keeps the copies honest.
import { describe, expect, it } from "vitest";
import { commandEntries, commandName } from "../cli/commands/index.js";

describe("CLI command registry", () => {
  it("lists every command once", () => {
    const names = commandEntries.map(commandName);
    expect(new Set(names).size).toBe(names.length);
  });

  for (const entry of commandEntries) {
    it(`${commandName(entry)}: the table matches the module`, async () => {
      const command = await entry.load();
      expect(command.command).toBe(entry.command);
      expect(command.describe).toBe(entry.describe);
    });
  }
});
