// `vlmc data export` and `vlmc data info`: look at a dataset before training on it.
import type { Argv } from "yargs";
import { exportSplit } from "../../runtime/data/export.js";
import { formatShape } from "../../runtime/data/fit.js";
import { loadDataset } from "../../runtime/data/index.js";
import { HELDOUT_COMBINATIONS } from "../../runtime/data/shapes.js";
import { UserError } from "../errors.js";
import type { VlmcCommand } from "./types.js";

const exportCommand = {
  command: "export <source>",
  describe: "Write a split as PNG files + <split>.jsonl + a contact sheet <split>-grid.png",
  builder: (y: Argv) =>
    y
      .positional("source", { type: "string", describe: "shapes, mnist, or a folder with a labels.jsonl", demandOption: true })
      .option("out", { alias: "o", type: "string", describe: "output folder", demandOption: true })
      .option("split", { type: "string", default: "train", describe: "train, test, or heldout (shapes only)" })
      .option("limit", { type: "number", describe: "export only the first N examples" })
      .option("seed", { type: "number", default: 0, describe: "seed of the generated shapes world" }),
  handler: async (args: Record<string, any>) => {
    const limit = args.limit as number | undefined;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UserError(`--limit must be a positive integer, got ${limit}`, 2);
    const dataset = loadDataset(args.source as string, { seed: args.seed as number });
    const split = args.split as string;
    let lastReported = 0;
    const result = exportSplit(dataset, split, args.out as string, {
      limit,
      onProgress: (done, total) => {
        // Plain lines, about every tenth of a large export: readable in logs and terminals alike.
        if (total >= 2000 && (done - lastReported >= total / 10 || done === total)) {
          process.stderr.write(`exported ${done}/${total} ${split} images\n`);
          lastReported = done;
        }
      },
    });
    process.stdout.write(
      `wrote ${result.count} ${split} images of ${dataset.name} to ${result.imageDir}\n` +
        `  labels:        ${result.jsonlPath}\n` +
        `  contact sheet: ${result.gridPath}\n`,
    );
  },
};

const infoCommand = {
  command: "info <source>",
  describe: "Print the splits, sizes, classes and image shape of a dataset",
  builder: (y: Argv) =>
    y
      .positional("source", { type: "string", describe: "shapes, mnist, or a folder with a labels.jsonl", demandOption: true })
      .option("seed", { type: "number", default: 0, describe: "seed of the generated shapes world" }),
  handler: async (args: Record<string, any>) => {
    const dataset = loadDataset(args.source as string, { seed: args.seed as number });
    const lines = [`dataset ${dataset.name}`];
    const classes = dataset.classes.length > 0 ? dataset.classes.join(", ") : "none (captions only)";
    lines.push(`  classes (${dataset.classes.length}): ${classes}`);
    for (const [name, split] of Object.entries(dataset.splits)) {
      lines.push(`  ${name.padEnd(8)} ${String(split.size).padStart(6)} images of ${formatShape(split.imageShape)}`);
    }
    if (dataset.name === "shapes") {
      lines.push(`  held-out combinations: ${HELDOUT_COMBINATIONS.map((c) => `${c.colour} ${c.shape}`).join(", ")}`);
    }
    process.stdout.write(lines.join("\n") + "\n");
  },
};

export const dataCommand: VlmcCommand = {
  command: "data",
  describe: "Inspect and export datasets (shapes, mnist, or an image folder)",
  builder: (y) =>
    y
      .command(exportCommand as never)
      .command(infoCommand as never)
      .demandCommand(1, "Give a data command: vlmc data export|info"),
  handler: async () => 0,
};
