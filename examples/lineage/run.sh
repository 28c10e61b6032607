#!/usr/bin/env bash
# The eight families of the lineage, trained on the shapes world by one `vlmc diff --train`, each
# with its own spec's defaults (task, epochs, batch, optimizer): the classifiers learn the shape
# label, CLIP learns image–caption pairs (scored zero-shot), the five decoder models answer
# questions (QA exact match). Writes the runs and report.html / report.md / report.json under
# runs/lineage (or $1). Running it again reuses finished runs of unchanged specs, so an
# interrupted comparison continues where it stopped.
#
#   ConvNet (LeNet-5)  convolutions → class           ViT        patches → transformer → class
#   CLIP               two towers, contrastive        KOSMOS     image tokens → MLP → decoder
#   Qwen-VL            ViT → 8 learned queries with 2-D positions (one cross-attention) → decoder
#   Idefics2           MLP projection → perceiver resampler (8 latents, 2 layers) → decoder
#   XComposer2         Partial LoRA at image positions of a frozen decoder
#   InternVL           4 tiles + thumbnail → pixel shuffle → MLP → decoder
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-runs/lineage}"
node bin/vlmc.js diff specs/convnet.vlm --train \
  --variants specs/convnet.vlm specs/vit.vlm specs/clip.vlm specs/kosmos.vlm \
             specs/qwen-vl.vlm specs/idefics2.vlm specs/xcomposer2.vlm specs/internvl.vlm \
  --data shapes --jobs "${JOBS:-2}" --out "$out" --report "$out/report"
