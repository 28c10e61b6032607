"""PyTorch CPU reference timings for `npm run bench` (bench/run.ts runs this as a child process).

    python3 bench/torch/bench.py [--models lenet5,vit,clip,kosmos] [--steps 20] [--warmup 3]
                                 [--min-time-s 0] [--budget-s 30] [--threads 2] [--batch N]
                                 [--config JSON]
                                 [--params-only]

--config is what the harness passes: per model key, the batch size, the optimizer settings and the
layer sizes it read from the compiled IR ({"vit": {"batch": 64, "optimizer": "adamw", "lr": 0.001,
"weight_decay": 0.05, "sizes": {"patch": 8, "dim": 64, ...}}}), so these models follow the specs. Without it, the defaults in
models.py are used.

Prints one JSON object on stdout:
    {"torch": "2.x", "threads": 2, "models": {"vit": {"params", "batch", "optimizer",
     "train_step_ms", "infer_ms", "steps"}, ...}}
or, when torch cannot be imported, {"error": "..."} with exit status 3, so the harness can skip
PyTorch with a clear message instead of failing.

A training step is what the tfjs side times: forward + loss + backward + optimizer update
(Adam/AdamW as in the spec's `train { optimizer }`) at the spec's batch size, ending with a read of
the loss value (`loss.item()`, as the tfjs side reads its loss), so nothing is left queued.
Medians over at least `--steps` timed steps (and as many as fit in `--min-time-s` seconds) after
`--warmup` untimed ones; no step starts after `--budget-s` seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet5,vit,clip,kosmos")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--min-time-s", type=float, default=0.0, help="keep timing until this much time is spent")
    parser.add_argument("--budget-s", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=0, help="override every model's batch (0: the spec's)")
    parser.add_argument("--config", default="{}", help="per model: batch, optimizer and sizes from the IR (JSON)")
    parser.add_argument("--params-only", action="store_true", help="print each model's parameter count, time nothing")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="one model: build it, warm up, print a ready line, then run one training step per 'step' line on stdin "
        "and print its ms (bench/interleave.ts alternates these steps with tfjs steps)",
    )
    args = parser.parse_args()

    try:
        import torch
    except ImportError as err:
        print(json.dumps({"error": f"PyTorch is not installed for {sys.executable} ({err}); pip install torch"}))
        return 3

    # No __pycache__ beside the sources: the repository does not ignore it.
    sys.dont_write_bytecode = True
    from models import MODELS, synthetic_batch

    config = json.loads(args.config)

    # Two threads: the figure the tfjs side is compared against (the bench machines have 2 cores;
    # the wasm backend runs single-threaded in Node, tfjs-node uses its own pool).
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    out: dict = {"torch": torch.__version__, "threads": torch.get_num_threads(), "models": {}}
    for name in [m for m in args.models.split(",") if m]:
        if name not in MODELS:
            print(json.dumps({"error": f"unknown model {name!r}; expected one of {', '.join(MODELS)}"}))
            return 2
        given = config.get(name, {})
        entry = {**MODELS[name], **given, "sizes": {**MODELS[name]["sizes"], **given.get("sizes", {})}}
        batch = args.batch or entry["batch"]
        if args.params_only:
            out["models"][name] = {"params": sum(p.numel() for p in entry["cls"](**entry["sizes"]).parameters())}
            continue
        optimizer = {"name": entry["optimizer"], "lr": entry.get("lr", 1e-3), "weight_decay": entry.get("weight_decay")}
        if args.serve:
            return serve(torch, entry["cls"](**entry["sizes"]), entry["sizes"], batch, optimizer, args, synthetic_batch)
        out["models"][name] = bench_model(torch, entry["cls"](**entry["sizes"]), entry["sizes"], batch, optimizer, args, synthetic_batch)
    print(json.dumps(out))
    return 0


def make_train_step(torch, model, sizes, batch, optimizer_settings, synthetic_batch):
    """The timed training step and the synthetic inputs it runs on (the same for both modes)."""
    generator = torch.Generator().manual_seed(1)
    inputs = synthetic_batch(sizes, batch, generator)
    optimizer_name = optimizer_settings["name"]
    optimizer_class = torch.optim.AdamW if optimizer_name == "adamw" else torch.optim.Adam
    decay = optimizer_settings["weight_decay"]
    extra = {} if decay is None else {"weight_decay": decay}  # None: PyTorch's default for the class
    optimizer = optimizer_class(model.parameters(), lr=optimizer_settings["lr"], **extra)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = model.loss(inputs)
        loss.backward()
        optimizer.step()
        loss.item()

    return train_step, inputs


def serve(torch, model, sizes, batch, optimizer_settings, args, synthetic_batch) -> int:
    """Steps on request: the caller times its own steps in between, so machine load falls on both alike."""
    train_step, _ = make_train_step(torch, model, sizes, batch, optimizer_settings, synthetic_batch)
    model.train()
    for _ in range(args.warmup):
        train_step()
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"ready": True, "params": params, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            break
        start = time.perf_counter()
        train_step()
        print(json.dumps({"ms": (time.perf_counter() - start) * 1000}), flush=True)
    return 0


def bench_model(torch, model, sizes, batch, optimizer_settings, args, synthetic_batch) -> dict:
    params = sum(p.numel() for p in model.parameters())
    optimizer_name = optimizer_settings["name"]
    train_step, inputs = make_train_step(torch, model, sizes, batch, optimizer_settings, synthetic_batch)

    model.train()
    train_ms, steps = timed(train_step, args)

    # Inference: the forward pass alone, no autograd bookkeeping (what a user's predict() does).
    model.eval()
    forward_args = [inputs["image"]] + ([inputs["tokens"]] if "tokens" in inputs else [])

    def infer() -> None:
        with torch.inference_mode():
            model(*forward_args).sum().item()

    infer_ms, _ = timed(infer, args)
    return {"params": params, "batch": batch, "optimizer": optimizer_name, "train_step_ms": train_ms, "infer_ms": infer_ms, "steps": steps}


def timed(body, args) -> tuple[float, int]:
    """Median milliseconds of `body` over the timed runs, and how many there were: at least
    --steps and --min-time-s, none started after --budget-s (the rule bench/harness.ts uses)."""
    for _ in range(args.warmup):
        body()
    samples: list[float] = []
    started = time.perf_counter()
    while True:
        start = time.perf_counter()
        body()
        samples.append((time.perf_counter() - start) * 1000)
        spent = time.perf_counter() - started
        enough = len(samples) >= args.steps and spent >= args.min_time_s
        if enough or spent >= args.budget_s:
            break
    return round(statistics.median(samples), 3), len(samples)


if __name__ == "__main__":
    sys.exit(main())
