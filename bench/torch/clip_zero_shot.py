"""specs/clip.vlm's `Clip` trained in PyTorch on exactly vlmc's shapes data, scored zero-shot.

    npx tsc -p bench/tsconfig.json && node dist/bench/export-shapes.js --out runs/shapes-clip
    python3 bench/torch/clip_zero_shot.py --data runs/shapes-clip [--seed 0] [--weight-decay 0.1]
        [--epochs 8] [--lr 2e-3] [--batch 128] [--warmup 100] [--threads 1]

The model is models.py's Clip (same layers and parameter count as the spec) with PyTorch's default
initialisation; the recipe is the spec's: AdamW (decaying every parameter, as torch does with
model.parameters()), linear warm-up then cosine decay per step, shuffled batches each epoch. After
each epoch it prints the zero-shot accuracy over the 30 prompts "a {colour} {shape}" on the held-out
colour–shape combinations, as `vlmc eval` reports heldout_zero_shot_accuracy. This is how the
README's PyTorch figures for CLIP were made: it tells a runtime problem (ours trains worse than
PyTorch from the same recipe) from a recipe problem (both do).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models import Clip


def load(data: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    meta = json.loads((data / f"{split}_meta.json").read_text())
    n = len(meta)
    images = np.fromfile(data / f"{split}_images.f32", dtype=np.float32).reshape(n, 32, 32, 3)
    seq_len = json.loads((data / "vocab.json").read_text())["seq_len"]
    tokens = np.fromfile(data / f"{split}_tokens.i32", dtype=np.int32).reshape(n, seq_len)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(tokens).long(), meta


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    vocab = json.loads((a.data / "vocab.json").read_text())
    train, test, heldout = (load(a.data, s) for s in ("train", "test", "heldout"))
    prompts = json.loads((a.data / "prompts.json").read_text())
    prompt_tokens = torch.from_numpy(np.fromfile(a.data / "prompts_tokens.i32", dtype=np.int32).reshape(len(prompts), -1)).long()

    model = Clip(vocab=vocab["size"], seq_len=vocab["seq_len"], eot=vocab["eos"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    steps_per_epoch = math.ceil(len(train[2]) / a.batch)
    total = steps_per_epoch * a.epochs

    def rate(step: int) -> float:
        if step < a.warmup:
            return (step + 1) / a.warmup
        return 0.5 * (1 + math.cos(math.pi * (step - a.warmup) / max(1, total - a.warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)

    def embed_images(images: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.normalize(model.image_head(model.vision(images[i:i + 500]).mean(dim=1)), dim=-1) for i in range(0, len(images), 500)])

    def zero_shot(split: tuple[torch.Tensor, torch.Tensor, list[dict]]) -> float:
        images, _, meta = split
        with torch.no_grad():
            texts = F.normalize(model.text_head(model.text(prompt_tokens)), dim=-1)
            best = (embed_images(images) @ texts.t()).argmax(dim=1).tolist()
        right = sum(prompts[b]["colour"] == m["colour"] and prompts[b]["shape"] == m["shape"] for b, m in zip(best, meta))
        return right / len(meta)

    started = time.time()
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(len(train[2]))
        for i in range(steps_per_epoch):
            idx = order[i * a.batch:(i + 1) * a.batch]
            loss = model.loss({"image": train[0][idx], "tokens": train[1][idx]})
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        model.eval()
        print(f"epoch {epoch + 1}: held-out zero-shot {zero_shot(heldout) * 100:.1f}%  ({time.time() - started:.0f} s)", flush=True)
    print(json.dumps({"seed": a.seed, "weight_decay": a.weight_decay, "test_zero_shot_accuracy": zero_shot(test),
                      "heldout_zero_shot_accuracy": zero_shot(heldout)}))


if __name__ == "__main__":
    main()
