"""The bundled vlmc models written the way a PyTorch user would write them.

Each class mirrors one spec in specs/ (sizes taken from the compiled IR: `vlmc inspect --json`):
LeNet5 (specs/convnet.vlm), ViTClassifier (specs/vit.vlm), Clip (specs/clip.vlm) and
Kosmos (specs/kosmos.vlm), with the blocks of specs/std/*.vlm. They exist only as the reference
side of `npm run bench`; the harness checks that each has exactly the IR's parameter count before
it prints a speed ratio, so a spec that changes without this file is caught, not silently compared.

Layout is PyTorch's own (NCHW images): converting to NHWC would only slow the reference down,
and the point is to compare against what a PyTorch user would actually run. Initialisation is
PyTorch's default: it does not change the cost of a step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------------------------------------
# specs/std/layers.vlm
# ---------------------------------------------------------------------------------------------


class Attention(nn.Module):
    """Multi-head self-attention with separate q/k/v/o projections (the IR's `attention` op)."""

    def __init__(self, dim: int, heads: int, causal: bool = False):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)), is_causal=self.causal)
        return self.o(out.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    """dense → gelu → dense; `out` defaults to `dim` (std Mlp), differs for MlpProjector."""

    def __init__(self, dim: int, hidden: int, out: int | None = None):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, out if out is not None else dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class TransformerBlock(nn.Module):
    """Pre-norm: x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, causal: bool = False, eps: float = 1e-5):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads, causal)
        self.ln2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


# ---------------------------------------------------------------------------------------------
# specs/std/encoders.vlm
# ---------------------------------------------------------------------------------------------


class ViT(nn.Module):
    """Patch embedding (a stride-p conv: the same parameters as dense(patchify(x))), class token,
    learned positions, pre-norm blocks, final layer norm. Returns all tokens [B, N + 1, dim]."""

    def __init__(self, image_size=32, channels=3, patch=4, dim=64, depth=4, heads=4, mlp_ratio=2, eps=1e-6):
        super().__init__()
        tokens = (image_size // patch) ** 2
        self.patch_embed = nn.Conv2d(channels, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.layers = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio, eps=eps) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=eps)
        nn.init.normal_(self.cls, std=0.02)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pixels).flatten(2).transpose(1, 2)  # [B, N, dim]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        for block in self.layers:
            x = block(x)
        return self.norm(x)


class ConvTower(nn.Module):
    """Three 3×3 conv + relu + 2×2 max-pool stages; the (image_size / 8)² cells read as tokens."""

    def __init__(self, channels=3, width=32, dim=64):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width * 2, 3, padding=1)
        self.conv3 = nn.Conv2d(width * 2, dim, 3, padding=1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(pixels)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        return x.flatten(2).transpose(1, 2)  # [B, cells, dim]


class TextTransformer(nn.Module):
    """Token embeddings + learned positions, causal blocks, layer norm, pooled at the first eot."""

    def __init__(self, vocab=64, seq_len=16, dim=64, depth=2, heads=4, mlp_ratio=2, eot=2):
        super().__init__()
        self.eot = eot
        self.token_embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(1, seq_len, dim) * 0.02)
        self.layers = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio, causal=True) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.token_embed(tokens) + self.pos
        for block in self.layers:
            x = block(x)
        x = self.norm(x)
        first_eot = (tokens == self.eot).int().argmax(dim=1)  # position 0 when a row has none
        return x[torch.arange(x.shape[0]), first_eot]


# ---------------------------------------------------------------------------------------------
# The bundled models
# ---------------------------------------------------------------------------------------------


class LeNet5(nn.Module):
    """specs/convnet.vlm: 61,706 parameters on 28×28×1."""

    def __init__(self, image_size=28, channels=1, classes=10):
        super().__init__()
        self.c1 = nn.Conv2d(channels, 6, 5, padding=2)
        self.c3 = nn.Conv2d(6, 16, 5)
        features = ((image_size // 2 - 4) // 2) ** 2 * 16  # 5 × 5 × 16 = 400 on 28 × 28
        self.f5 = nn.Linear(features, 120)
        self.f6 = nn.Linear(120, 84)
        self.f7 = nn.Linear(84, classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.c1(image)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        x = F.relu(self.f5(x.flatten(1)))
        x = F.relu(self.f6(x))
        return self.f7(x)

    def loss(self, batch: dict) -> torch.Tensor:
        return F.cross_entropy(self(batch["image"]), batch["label"])


class ViTClassifier(nn.Module):
    """specs/vit.vlm: the ViT encoder, its class token read out by one dense layer."""

    def __init__(self, image_size=32, channels=3, classes=10, patch=8, dim=64, depth=4, heads=4, mlp_ratio=2, eps=1e-6):
        super().__init__()
        self.vision = ViT(image_size, channels, patch, dim, depth, heads, mlp_ratio, eps)
        self.head = nn.Linear(dim, classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.vision(image)[:, 0])

    def loss(self, batch: dict) -> torch.Tensor:
        return F.cross_entropy(self(batch["image"]), batch["label"])


class Clip(nn.Module):
    """specs/clip.vlm: conv image tower + text transformer, linear projections, contrastive loss."""

    def __init__(self, image_size=32, channels=3, vocab=64, seq_len=16, embed=64, vision_width=32, vision_dim=64,
                 text_dim=64, text_depth=2, text_heads=4, text_mlp_ratio=2, eot=2, init_scale=2.6592):
        super().__init__()
        self.vision = ConvTower(channels, vision_width, vision_dim)
        self.text = TextTransformer(vocab, seq_len, text_dim, text_depth, text_heads, text_mlp_ratio, eot)
        self.image_head = nn.Linear(vision_dim, embed, bias=False)
        self.text_head = nn.Linear(text_dim, embed, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(init_scale))  # log(1 / 0.07) by default

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        image_embeds = F.normalize(self.image_head(self.vision(image).mean(dim=1)), dim=-1)
        text_embeds = F.normalize(self.text_head(self.text(tokens)), dim=-1)
        return image_embeds @ text_embeds.t() * self.logit_scale.exp()

    def loss(self, batch: dict) -> torch.Tensor:
        logits = self(batch["image"], batch["tokens"])
        targets = torch.arange(logits.shape[0])
        return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2


class Kosmos(nn.Module):
    """specs/kosmos.vlm: conv image tokens → MLP projector → causal decoder over [image, text]."""

    def __init__(self, image_size=32, channels=3, vocab=64, seq_len=16, vision_width=32, vision_dim=64,
                 projector_hidden=128, width=128, depth=2, heads=4, mlp_ratio=4):
        super().__init__()
        image_tokens = (image_size // 8) ** 2  # ConvTower: three 2× poolings
        self.vision = ConvTower(channels, vision_width, vision_dim)
        self.projector = Mlp(vision_dim, projector_hidden, width)  # MlpProjector
        self.token_embed = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.randn(1, image_tokens + seq_len, width) * 0.02)
        self.layers = nn.ModuleList(TransformerBlock(width, heads, mlp_ratio, causal=True) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.lm_head = nn.Linear(width, vocab)

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        img = self.projector(self.vision(image))
        x = torch.cat([img, self.token_embed(tokens)], dim=1) + self.pos
        for block in self.layers:
            x = block(x)
        return self.lm_head(self.norm(x)[:, img.shape[1]:])

    def loss(self, batch: dict) -> torch.Tensor:
        logits = self(batch["image"], batch["tokens"])
        nll = F.cross_entropy(logits.flatten(0, 1), batch["targets"].flatten(), reduction="none")
        mask = batch["target_mask"].flatten()
        return (nll * mask).sum() / mask.sum().clamp(min=1)


def synthetic_batch(sizes: dict, batch: int, generator: torch.Generator) -> dict:
    """Random inputs of the right shapes, dtypes and ranges: the bench measures step cost, not learning."""
    image_size, channels = sizes.get("image_size", 32), sizes.get("channels", 3)
    out = {"image": torch.rand(batch, channels, image_size, image_size, generator=generator)}
    if "classes" in sizes:
        out["label"] = torch.randint(0, sizes["classes"], (batch,), generator=generator)
    if "vocab" in sizes:
        shape = (batch, sizes["seq_len"])
        out["tokens"] = torch.randint(0, sizes["vocab"], shape, generator=generator)
        out["targets"] = torch.randint(0, sizes["vocab"], shape, generator=generator)
        out["target_mask"] = (torch.rand(shape, generator=generator) < 0.5).float()
    return out


# The harness's model keys → the class and the spec's training defaults as of this writing. The
# harness passes the sizes it reads from the compiled IR (--config), so these defaults matter only
# when this script runs on its own.
MODELS = {
    "lenet5": {"cls": LeNet5, "batch": 64, "optimizer": "adam", "sizes": {"image_size": 28, "channels": 1, "classes": 10}},
    "vit": {"cls": ViTClassifier, "batch": 64, "optimizer": "adamw", "sizes": {"image_size": 32, "channels": 3, "classes": 10}},
    "clip": {"cls": Clip, "batch": 128, "optimizer": "adamw", "sizes": {"image_size": 32, "channels": 3, "vocab": 64, "seq_len": 16}},
    "kosmos": {"cls": Kosmos, "batch": 32, "optimizer": "adamw", "sizes": {"image_size": 32, "channels": 3, "vocab": 64, "seq_len": 16}},
}
