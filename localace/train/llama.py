"""A small torch llama (SmolLM2, Llama, Qwen2) that computes on GGUF tensors as llama.cpp does, with LoRA.

Everything follows llama.cpp's graph for these architectures: RMS norm, rotary embeddings on q and k
(adjacent pairs for llama, half-split for qwen2, optional per-frequency factors and linear scaling),
grouped-query attention where query head h reads key/value head h // (n_head / n_head_kv), SwiGLU feed-forward,
and the output projection tied to token_embd when the file has no output.weight. A LoRA adapter adds
scale * B @ A to a weight, scale = alpha / rank, as llama.cpp applies `<name>.lora_a` / `.lora_b`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F

from localace.train.gguf_model import PROJECTIONS, GgufModel, ModelConfig, block_weight


class Lora(torch.nn.Module):
    """LoRA factors per adapted GGUF weight: A (rank x in), B (out x rank); B starts at zero."""

    def __init__(self, shapes: dict[str, tuple[int, int]], rank: int, alpha: float, seed: int) -> None:
        super().__init__()
        self.names = sorted(shapes)
        self.rank = rank
        self.alpha = float(alpha)
        self.scale = self.alpha / rank
        generator = torch.Generator().manual_seed(seed)
        a, b = [], []
        for name in self.names:
            out_features, in_features = shapes[name]
            # Kaiming-uniform with a=sqrt(5), as torch.nn.Linear and PEFT initialise A: bound 1/sqrt(in).
            bound = 1.0 / math.sqrt(in_features)
            a.append(torch.nn.Parameter((torch.rand(rank, in_features, generator=generator) * 2 - 1) * bound))
            b.append(torch.nn.Parameter(torch.zeros(out_features, rank)))
        self.a = torch.nn.ParameterList(a)
        self.b = torch.nn.ParameterList(b)
        self._index = {name: i for i, name in enumerate(self.names)}

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def factors(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        i = self._index[name]
        return self.a[i], self.b[i]

    def delta(self, name: str) -> torch.Tensor:
        """scale * B @ A: what the adapter adds to the weight."""
        a, b = self.factors(name)
        return self.scale * (b @ a)


def lora_shapes(model: GgufModel, projections: Iterable[str] = PROJECTIONS) -> dict[str, tuple[int, int]]:
    """(out, in) of every block weight LoRA adapts."""
    cfg = model.config
    shapes = {}
    for layer in range(cfg.n_layer):
        for projection in projections:
            name = block_weight(layer, projection)
            ne = model.tensors[name].shape
            shapes[name] = (int(ne[1]), int(ne[0]))
    return shapes


class TorchLlama:
    """The frozen base model as float32 torch tensors; `forward` optionally through a Lora."""

    def __init__(self, model: GgufModel) -> None:
        self.config: ModelConfig = model.config
        self.weights: dict[str, torch.Tensor] = {
            name: torch.from_numpy(model.tensor(name)) for name in model.tensors
        }
        self._rope_cache: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def _rope_tables(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        if self._rope_cache is None or self._rope_cache[0] < n:
            pairs = cfg.n_rot // 2
            inv = cfg.rope_base ** (-2.0 * torch.arange(pairs, dtype=torch.float64) / cfg.n_rot)
            if cfg.freq_factors:
                inv = inv / self.weights["rope_freqs.weight"][:pairs].double()
            size = max(n, 256)
            angles = torch.arange(size, dtype=torch.float64)[:, None] * cfg.rope_scale * inv[None, :]
            self._rope_cache = (size, angles.cos().float(), angles.sin().float())
        _, cos, sin = self._rope_cache
        return cos[:n, None, :], sin[:n, None, :]

    def _rope(self, x: torch.Tensor) -> torch.Tensor:
        """x: (T, heads, head_dim), rotated in place of llama.cpp's ggml_rope_ext."""
        cfg = self.config
        cos, sin = self._rope_tables(x.shape[0])
        rot, rest = x[..., : cfg.n_rot], x[..., cfg.n_rot:]
        if cfg.rope_neox:
            x0, x1 = rot[..., : cfg.n_rot // 2], rot[..., cfg.n_rot // 2:]
            rotated = torch.cat([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
        else:
            x0, x1 = rot[..., 0::2], rot[..., 1::2]
            rotated = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)
        return torch.cat([rotated, rest], dim=-1) if rest.shape[-1] else rotated

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.config.rms_eps)
        return x * self.weights[name]

    def _linear(self, x: torch.Tensor, name: str, lora: Lora | None) -> torch.Tensor:
        bias = self.weights.get(name[: -len("weight")] + "bias")
        y = F.linear(x, self.weights[name], bias)
        if lora is not None and name in lora:
            a, b = lora.factors(name)
            y = y + lora.scale * F.linear(F.linear(x, a), b)
        return y

    def hidden(self, tokens: torch.Tensor, lora: Lora | None = None) -> torch.Tensor:
        """Final normalised hidden states (T, n_embd) of one sequence of token ids."""
        cfg = self.config
        n = tokens.shape[0]
        x = self.weights["token_embd.weight"][tokens]
        for layer in range(cfg.n_layer):
            h = self._norm(x, f"blk.{layer}.attn_norm.weight")
            q = self._linear(h, block_weight(layer, "attn_q"), lora).view(n, cfg.n_head, cfg.head_dim)
            k = self._linear(h, block_weight(layer, "attn_k"), lora).view(n, cfg.n_head_kv, cfg.head_dim)
            v = self._linear(h, block_weight(layer, "attn_v"), lora).view(n, cfg.n_head_kv, cfg.head_dim)
            q, k = self._rope(q), self._rope(k)
            # (1, heads, T, head_dim): torch's fused CPU attention kernel needs 4-D inputs (3-D falls back to a
            # slower path that materialises the T x T scores). enable_gqa maps query head h to key/value head
            # h // (n_head / n_head_kv), as llama.cpp's broadcasting does.
            attn = F.scaled_dot_product_attention(
                q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None], is_causal=True,
                scale=1.0 / math.sqrt(cfg.head_dim), enable_gqa=cfg.n_head != cfg.n_head_kv,
            )
            x = x + self._linear(attn[0].transpose(0, 1).reshape(n, cfg.n_head * cfg.head_dim),
                                 block_weight(layer, "attn_output"), lora)
            h = self._norm(x, f"blk.{layer}.ffn_norm.weight")
            gate = self._linear(h, block_weight(layer, "ffn_gate"), lora)
            up = self._linear(h, block_weight(layer, "ffn_up"), lora)
            x = x + self._linear(F.silu(gate) * up, block_weight(layer, "ffn_down"), lora)
        return self._norm(x, "output_norm.weight")

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        output = self.weights["token_embd.weight" if self.config.tied_output else "output.weight"]
        return F.linear(hidden, output)

    def forward(self, tokens: torch.Tensor, lora: Lora | None = None) -> torch.Tensor:
        """Logits (T, n_vocab) at every position."""
        return self.logits(self.hidden(tokens, lora))

    def merged(self, lora: Lora) -> dict[str, torch.Tensor]:
        """Every adapted weight with the adapter folded in: W + scale * B @ A."""
        with torch.no_grad():
            return {name: self.weights[name] + lora.delta(name) for name in lora.names}


def lora_state(lora: Lora) -> dict[str, Any]:
    """The adapter as numpy arrays keyed by GGUF tensor name (for the adapter writer)."""
    with torch.no_grad():
        return {name: tuple(t.detach().numpy().copy() for t in lora.factors(name)) for name in lora.names}
