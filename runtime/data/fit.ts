// Adapting image batches to a model's input shape, for the cases where the change is standard and
// loses (almost) nothing: MNIST's 28×28×1 digits into a model built for 32×32×3 shapes, say.
// Spatial: centre pad with zeros (the digits' background), or centre crop of at most a quarter of a
// side. Channels: 1 → 3 by replication, 3 → 1 by averaging. Anything else (a resize, a crop that
// would cut into the content, 4 channels) is refused with a reason, so the user fixes the spec or
// the data knowingly.
import type { BatchField } from "./types.js";
import { DataError } from "./types.js";

export type ImageShape = readonly [number, number, number];

export type FitPlan = { ok: true; steps: string[] } | { ok: false; reason: string };

/** Largest fraction of a side that centre cropping may remove. */
const MAX_CROP_FRACTION = 0.25;

/** Says whether (and how) images of shape `from` [H, W, C] can be fitted to `to`. */
export function planImageFit(from: ImageShape, to: ImageShape): FitPlan {
  const steps: string[] = [];
  const axes = ["height", "width"] as const;
  for (let a = 0; a < 2; a++) {
    const src = from[a]!;
    const dst = to[a]!;
    if (dst > src) steps.push(`centre pad ${axes[a]} ${src} → ${dst}`);
    if (dst < src) {
      if (src - dst > src * MAX_CROP_FRACTION) {
        return { ok: false, reason: `cropping ${axes[a]} ${src} → ${dst} would cut off more than a quarter of the image; resize the images or change the model's input` };
      }
      steps.push(`centre crop ${axes[a]} ${src} → ${dst}`);
    }
  }
  const [cs, cd] = [from[2], to[2]];
  if (cs !== cd) {
    if (cs === 1 && cd === 3) steps.push("grey → RGB (replicate the channel)");
    else if (cs === 3 && cd === 1) steps.push("RGB → grey (average the channels)");
    else return { ok: false, reason: `cannot convert images with ${cs} channels to ${cd} channels (only 1 ↔ 3 is supported)` };
  }
  return { ok: true, steps };
}

export function formatShape(shape: ImageShape): string {
  return `${shape[0]}×${shape[1]}×${shape[2]}`;
}

/**
 * Returns `batch` (float32 [N, H, W, C]) fitted to `target` [H', W', C']; the batch itself when the
 * shapes already match. Throws DataError with the reason when the fit is not a standard transform.
 */
export function fitImages(batch: BatchField, target: ImageShape): BatchField {
  if (batch.shape.length !== 4) throw new DataError(`expected an image batch [N, H, W, C], got shape [${batch.shape.join(", ")}]`);
  const [n, h, w, c] = batch.shape as [number, number, number, number];
  const plan = planImageFit([h, w, c], target);
  if (!plan.ok) {
    throw new DataError(`the data's images are ${formatShape([h, w, c])} but the model expects ${formatShape(target)}: ${plan.reason}`);
  }
  if (plan.steps.length === 0) return batch;
  const [th, tw, tc] = target;
  const src = batch.data;
  const out = new Float32Array(n * th * tw * tc);
  // Offsets of the target window in source coordinates: negative when padding, positive when cropping.
  const oy = Math.floor((h - th) / 2);
  const ox = Math.floor((w - tw) / 2);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < th; y++) {
      const sy = y + oy;
      if (sy < 0 || sy >= h) continue;
      for (let x = 0; x < tw; x++) {
        const sx = x + ox;
        if (sx < 0 || sx >= w) continue;
        const s = ((b * h + sy) * w + sx) * c;
        const d = ((b * th + y) * tw + x) * tc;
        if (c === tc) for (let ch = 0; ch < c; ch++) out[d + ch] = src[s + ch]!;
        else if (c === 1) for (let ch = 0; ch < tc; ch++) out[d + ch] = src[s]!;
        else out[d] = (src[s]! + src[s + 1]! + src[s + 2]!) / 3;
      }
    }
  }
  return { dtype: "float32", shape: [n, th, tw, tc], data: out };
}
