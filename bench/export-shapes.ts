// Writes the shapes world as vlmc's CLIP training sees it — images as float32 NHWC, captions as the
// word tokenizer's ids padded to 12 — to raw files that bench/torch/clip_zero_shot.py reads, so the
// same architecture can be trained in PyTorch on exactly our data and the two compared.
//
//   npx tsc -p bench/tsconfig.json && node dist/bench/export-shapes.js --out runs/shapes-clip
//
// Files: {train,test,heldout}_images.f32 ([n, 32, 32, 3]), {split}_tokens.i32 ([n, 12]),
// {split}_meta.json (caption, colour, shape per example), prompts_tokens.i32 / prompts.json (the 30
// zero-shot prompts), vocab.json (size, eos, pad).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadDataset } from "../runtime/data/index.js";
import { shapesZeroShotPrompts } from "../runtime/data/shapes.js";
import { buildTokenizer } from "../runtime/tasks/index.js";
import { captionIds } from "../runtime/tasks/text.js";

const { values } = parseArgs({ options: { out: { type: "string" }, "seq-len": { type: "string", default: "12" } } });
if (!values.out) throw new Error("give --out DIR");
const out = values.out;
const seqLen = Number(values["seq-len"]);
mkdirSync(out, { recursive: true });

const dataset = loadDataset("shapes", { seed: 0 });
const tokenizer = buildTokenizer(dataset);
const text = { tokenizer, seqLen };
const raw = (data: Float32Array | Int32Array) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

for (const [name, split] of Object.entries(dataset.splits)) {
  const indices = Array.from({ length: split.size }, (_, i) => i);
  writeFileSync(join(out, `${name}_images.f32`), raw(split.batch(indices).image.data));
  const ids = new Int32Array(split.size * seqLen);
  const meta = indices.map((i) => {
    const m = split.meta(i);
    ids.set(captionIds(text, m.caption!), i * seqLen);
    return { caption: m.caption, colour: m.attrs?.["colour"], shape: m.attrs?.["shape"] };
  });
  writeFileSync(join(out, `${name}_tokens.i32`), raw(ids));
  writeFileSync(join(out, `${name}_meta.json`), JSON.stringify(meta));
  process.stdout.write(`${name}: ${split.size} examples\n`);
}
const prompts = shapesZeroShotPrompts();
const promptIds = new Int32Array(prompts.length * seqLen);
prompts.forEach((p, i) => promptIds.set(captionIds(text, p.prompt), i * seqLen));
writeFileSync(join(out, "prompts_tokens.i32"), raw(promptIds));
writeFileSync(join(out, "prompts.json"), JSON.stringify(prompts));
writeFileSync(join(out, "vocab.json"), JSON.stringify({ size: tokenizer.size, eos: tokenizer.eosId, pad: tokenizer.padId, seq_len: seqLen }));
process.stdout.write(`wrote ${out}\n`);
