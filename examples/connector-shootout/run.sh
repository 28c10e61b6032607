#!/usr/bin/env bash
# The connector shootout: the same vision encoder and shapes world, four ways for image and text to
# meet, each trained on the same data, budget and seeds by `vlmc diff --train`. Writes the runs,
# report.html / report.md / report.json under runs/connector-shootout (or $1).
#
#   Kosmos           MLP projector: every image token → 2-layer MLP → decoder, interleaved with text
#   KosmosResampler  perceiver resampler: 16 learned queries cross-attend to the image tokens
#   KosmosQFormer    BLIP-2 Q-Former: 16 queries, self-attention + cross-attention + MLP, 2 layers
#   Clip             contrastive: pooled image and text embeddings, no decoder at all
#
# The decoder models answer questions (QA exact match); CLIP is scored zero-shot. Running the same
# command again reuses finished runs, so an interrupted shootout continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-runs/connector-shootout}"
node bin/vlmc.js diff specs/kosmos.vlm --train \
  --variants 'Kosmos' 'KosmosResampler' 'KosmosQFormer' 'specs/clip.vlm; Clip' \
  --data shapes --steps "${STEPS:-1000}" --seeds "${SEEDS:-2}" \
  --out "$out" --report "$out/report"
