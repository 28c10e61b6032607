// The ops the later vision-language models add (Qwen-VL, Idefics2, InternLM-XComposer2, InternVL):
// 2-D sin-cos positions, pixel shuffle on token grids, image tiling, token masks and the
// Partial LoRA update. Shapes and layouts follow compiler/ir.ts and docs/ir.md.
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "@tensorflow/tfjs-core";
import { dense } from "./layers.js";
import { patchify } from "./structure.js";

/**
 * The fixed table [side², D] for a side × side grid, token t = row·side + col. Features 0..D/2-1
 * encode the row, D/2..D-1 the column, each as [sin(p·ω_0..ω_{q-1}), cos(p·ω_0..ω_{q-1})] with
 * q = D/4 and ω_i = 10000^(-i/q) (the MAE / Qwen-VL adapter form).
 */
export function sincos2dTable(side: number, d: number): Float32Array {
  const q = d / 4;
  const table = new Float32Array(side * side * d);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const at = (r * side + c) * d;
      for (let i = 0; i < q; i++) {
        const omega = Math.pow(10000, -i / q);
        table[at + i] = Math.sin(r * omega);
        table[at + q + i] = Math.cos(r * omega);
        table[at + 2 * q + i] = Math.sin(c * omega);
        table[at + 3 * q + i] = Math.cos(c * omega);
      }
    }
  }
  return table;
}

/** x [B, N, D] + the 2-D sin-cos table of the √N × √N grid (not learned). */
export function sincos2dPositions(x: Tensor): Tensor {
  return tf.tidy(() => {
    const [, n, d] = x.shape as [number, number, number];
    return tf.add(x, tf.tensor2d(sincos2dTable(Math.round(Math.sqrt(n)), d), [n, d]));
  });
}

/**
 * Space-to-depth on a token grid: [B, s², D] → [B, (s/f)², f²·D]. The tokens read as an s × s
 * image with D channels and patchified, so the layout is patchify's: blocks row-major, features
 * ordered (row in block, column in block, channel).
 */
export function pixelShuffle(x: Tensor, o: { factor: number }): Tensor {
  return tf.tidy(() => {
    const [b, n, d] = x.shape as [number, number, number];
    const side = Math.round(Math.sqrt(n));
    return patchify(tf.reshape(x, [b, side, side, d]), { patch: o.factor });
  });
}

/**
 * [B, H, W, C] → [B·T, tile, tile, C]: each example's tiles row-major over the grid, then, when
 * there is more than one, the thumbnail (the whole image area-averaged to tile × tile), so an
 * example's T rows are consecutive and merge_tiles can put its tokens back side by side.
 */
export function tileImage(x: Tensor, o: { tile: number; tiles: number }): Tensor {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const t = o.tile;
    const gh = h / t, gw = w / t;
    const grid = tf.reshape(tf.transpose(tf.reshape(x, [b, gh, t, gw, t, c]), [0, 1, 3, 2, 4, 5]), [b, gh * gw, t, t, c]);
    if (o.tiles === gh * gw) return tf.reshape(grid, [b * gh * gw, t, t, c]);
    const thumbnail = tf.avgPool(x as tf.Tensor4D, [gh, gw], [gh, gw], "valid");
    return tf.reshape(tf.concat([grid, tf.reshape(thumbnail, [b, 1, t, t, c])], 1), [b * o.tiles, t, t, c]);
  });
}

/** [B·T, N, D] → [B, T·N, D]: an example's tiles' tokens in tile order. */
export function mergeTiles(x: Tensor, o: { tiles: number }): Tensor {
  const [rows, n, d] = x.shape as [number, number, number];
  return tf.reshape(x, [rows / o.tiles, o.tiles * n, d]);
}

/** float [B, N]: 1 at tokens start..end-1 of x [B, N, …]. */
export function tokenMask(x: Tensor, o: { start: number; end: number }): Tensor {
  return tf.tidy(() => {
    const [b, n] = x.shape as [number, number];
    const row = new Float32Array(n);
    row.fill(1, o.start, o.end);
    return tf.broadcastTo(tf.tensor2d(row, [1, n]), [b, n]);
  });
}

/**
 * Partial LoRA: scale · mask[…, None] · (x · a) · b. At unmasked positions the update is exactly
 * zero, so a frozen base projection plus this term equals the base projection there, bit for bit.
 */
export function partialLora(x: Tensor, mask: Tensor, a: Tensor, b: Tensor, o: { scale: number }): Tensor {
  return tf.tidy(() => {
    const update = dense(dense(x, a), b);
    const gate = tf.expandDims(tf.cast(mask, "float32"), -1);
    return tf.mul(update, o.scale === 1 ? gate : tf.mul(gate, o.scale));
  });
}
