// The ViT classifier of specs/vit.vlm written by hand in plain tfjs-core: images cut into square
// patches embedded by one dense layer, a class token and learned positions, pre-norm transformer
// blocks (multi-head attention, an MLP with exact GELU), a final layer norm, the class token read
// out by a dense layer. The sizes (image_size, channels, patch, dim, depth, heads, mlp_ratio, eps,
// classes) come from the IR through bench/models.ts.
//
// It is written the way a tfjs user who has read ../shared/notes/tfjs-backends.md writes it:
// dense layers as one 2-D matMul over folded rows, patches by reshape/transpose, kᵀ materialised
// rather than passed as a transpose flag. A naive version (3-D matMuls, transposeB) would be
// slower on wasm for reasons that have nothing to do with code generation, and the point of this
// model is to show what the generated code costs on top of the same computation.
import * as tf from "@tensorflow/tfjs-core";
import type { Sizes } from "../models.js";
import { crossEntropy, ParamSet, type HandwrittenModel } from "./common.js";

interface Dense { k: tf.Variable; b: tf.Variable }
interface Norm { g: tf.Variable; b: tf.Variable }
interface Block { ln1: Norm; q: Dense; k: Dense; v: Dense; o: Dense; ln2: Norm; fc1: Dense; fc2: Dense }

export function vit(sizes: Sizes, seed = 0): HandwrittenModel {
  const IMAGE = sizes["image_size"]!, CHANNELS = sizes["channels"]!, PATCH = sizes["patch"]!, DIM = sizes["dim"]!;
  const DEPTH = sizes["depth"]!, HEADS = sizes["heads"]!, MLP = DIM * sizes["mlp_ratio"]!, CLASSES = sizes["classes"]!, EPS = sizes["eps"]!;
  const TOKENS = (IMAGE / PATCH) ** 2 + 1;
  const p = new ParamSet(seed);
  const dense = (name: string, inDim: number, outDim: number): Dense => ({
    k: p.glorot(`${name}.kernel`, [inDim, outDim], inDim, outDim),
    b: p.zeros(`${name}.bias`, [outDim]),
  });
  const norm = (name: string): Norm => ({ g: p.ones(`${name}.gamma`, [DIM]), b: p.zeros(`${name}.beta`, [DIM]) });
  // Attention projections keep the IR's names (q_kernel, not q.kernel): both end in "kernel", so
  // the optimizer decays the same set of parameters on both sides.
  const attnDense = (name: string): Dense => ({
    k: p.glorot(`${name}_kernel`, [DIM, DIM], DIM, DIM),
    b: p.zeros(`${name}_bias`, [DIM]),
  });

  const patchEmbed = dense("vision.patch_embed", PATCH * PATCH * CHANNELS, DIM);
  const cls = p.normal("vision.cls.token", [DIM], 0.02);
  const pos = p.normal("vision.pos.table", [TOKENS, DIM], 0.02);
  const blocks: Block[] = [];
  for (let i = 0; i < DEPTH; i++) {
    const at = `vision.layers.${i}.block`;
    blocks.push({
      ln1: norm(`${at}.ln1`),
      q: attnDense(`${at}.attn.q`), k: attnDense(`${at}.attn.k`), v: attnDense(`${at}.attn.v`), o: attnDense(`${at}.attn.o`),
      ln2: norm(`${at}.ln2`),
      fc1: dense(`${at}.mlp.fc1`, DIM, MLP),
      fc2: dense(`${at}.mlp.fc2`, MLP, DIM),
    });
  }
  const finalNorm = norm("vision.norm");
  const head = dense("head", DIM, CLASSES);

  /** x [..., in] · k + b, as one 2-D matMul. */
  const linear = (x: tf.Tensor, d: Dense): tf.Tensor => {
    const inDim = x.shape[x.rank - 1]!;
    const y = tf.add(tf.matMul(tf.reshape(x, [-1, inDim]), d.k), d.b);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), d.k.shape[1]!]);
  };

  const layerNorm = (x: tf.Tensor, n: Norm): tf.Tensor => {
    const centered = tf.sub(x, tf.mean(x, -1, true));
    const variance = tf.mean(tf.mul(centered, centered), -1, true);
    return tf.add(tf.mul(tf.div(centered, tf.sqrt(tf.add(variance, EPS))), n.g), n.b);
  };

  const gelu = (x: tf.Tensor): tf.Tensor => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));

  const attention = (x: tf.Tensor, b: Block): tf.Tensor => {
    const [batch, n] = x.shape as [number, number, number];
    const d = DIM / HEADS;
    // [B, N, H·d] → [B·H, N, d]
    const split = (t: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(t, [batch, n, HEADS, d]), [0, 2, 1, 3]), [batch * HEADS, n, d]);
    const q = split(tf.mul(linear(x, b.q), 1 / Math.sqrt(d)));
    const k = split(linear(x, b.k));
    const v = split(linear(x, b.v));
    const probs = tf.softmax(tf.matMul(q, tf.transpose(k, [0, 2, 1])), -1);
    const heads = tf.reshape(tf.transpose(tf.reshape(tf.matMul(probs, v), [batch, HEADS, n, d]), [0, 2, 1, 3]), [batch, n, DIM]);
    return linear(heads, b.o);
  };

  const logits = (image: tf.Tensor): tf.Tensor => {
    const batch = image.shape[0]!;
    const grid = IMAGE / PATCH;
    // Patches row-major over the grid, (row, col, channel) inside a patch.
    const patches = tf.reshape(
      tf.transpose(tf.reshape(image, [batch, grid, PATCH, grid, PATCH, CHANNELS]), [0, 1, 3, 2, 4, 5]),
      [batch, grid * grid, PATCH * PATCH * CHANNELS],
    );
    const token = tf.broadcastTo(tf.reshape(cls, [1, 1, DIM]), [batch, 1, DIM]);
    let x = tf.add(tf.concat([token, linear(patches, patchEmbed)], 1), pos);
    for (const b of blocks) {
      x = tf.add(x, attention(layerNorm(x, b.ln1), b));
      x = tf.add(x, linear(gelu(linear(layerNorm(x, b.ln2), b.fc1)), b.fc2));
    }
    const first = tf.reshape(tf.slice(layerNorm(x, finalNorm), [0, 0, 0], [-1, 1, -1]), [batch, DIM]);
    return linear(first, head);
  };

  return {
    params: p.params,
    paramCount: p.count,
    loss: (inputs) => crossEntropy(logits(inputs["image"]!), inputs["label"]!),
    predict: (inputs) => logits(inputs["image"]!),
    dispose: () => p.dispose(),
  };
}
