"""Read a GGUF model for training: its hyperparameters and its tensors dequantized to F32.

There are no Hugging Face weights offline: the GGUF is the source. Tensors keep the GGUF layout (a weight is
`out x in` in numpy order, llama.cpp's `ne = [in, out]`) so nothing needs permuting: llama.cpp's llama runs
adjacent-pair rotary embeddings (LLAMA_ROPE_TYPE_NORM) on q/k exactly as stored; qwen2 runs NEOX rotary."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from localace.errors import UserError

# Architecture -> whether llama.cpp applies NEOX-style (half-split) rotary embeddings to it.
ROPE_NEOX = {"llama": False, "qwen2": True}
SUPPORTED_ARCHS = tuple(ROPE_NEOX)
PROJECTIONS = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
_GLOBAL_TENSORS = {"token_embd.weight", "output_norm.weight", "output.weight", "rope_freqs.weight"}
_BLOCK_TENSOR = re.compile(r"blk\.(\d+)\.(\w+)\.(weight|bias)")
_BLOCK_WEIGHTS = {"attn_norm", "ffn_norm", *PROJECTIONS}
_QKV_BIASES = {"attn_q", "attn_k", "attn_v"}


class UnsupportedModelError(UserError):
    """A GGUF this trainer cannot fine-tune faithfully (architecture, rope scaling, experts, adapter file)."""


@dataclass(frozen=True)
class ModelConfig:
    arch: str
    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_rot: int  # rotary dimensions per head (the first n_rot of head_dim)
    rope_base: float
    rope_scale: float  # positions are multiplied by this (linear rope scaling; 1.0 = none)
    rope_neox: bool
    rms_eps: float
    n_vocab: int
    tied_output: bool  # no output.weight: the output projection is token_embd
    qkv_bias: bool
    freq_factors: bool  # rope_freqs.weight divides each rotary frequency (Llama 3.1)


class GgufModel:
    """A GGUF file opened for reading (memory-mapped by the gguf package)."""

    def __init__(self, path: str | Path) -> None:
        import gguf

        self.path = Path(path)
        try:
            self.reader = gguf.GGUFReader(str(self.path))
        except (ValueError, OSError) as error:
            raise UserError(f"cannot read {self.path} as GGUF: {str(error).splitlines()[0][:200]}") from None
        self.tensors = {t.name: t for t in self.reader.tensors}

    def value(self, key: str, default: Any = None) -> Any:
        field = self.reader.fields.get(key)
        return default if field is None else field.contents()

    @property
    def arch(self) -> str:
        return str(self.value("general.architecture", ""))

    @cached_property
    def config(self) -> ModelConfig:
        """Hyperparameters, after refusing anything this trainer would compute differently from llama.cpp."""
        name = self.path.name
        if self.value("general.type") == "adapter":
            raise UnsupportedModelError(f"{name} is a LoRA adapter, not a model: pass the base model to --model")
        arch = self.arch
        if arch not in ROPE_NEOX:
            raise UnsupportedModelError(
                f"{name}: architecture {arch or '(none)'!r} is not supported for training "
                f"(supported: {', '.join(SUPPORTED_ARCHS)})")
        if int(self.value(f"{arch}.expert_count", 0) or 0) > 0:
            raise UnsupportedModelError(f"{name}: mixture-of-experts models are not supported for training")
        scaling = self.value(f"{arch}.rope.scaling.type", "none") or "none"
        if scaling not in ("none", "linear"):
            raise UnsupportedModelError(f"{name}: rope scaling {scaling!r} is not supported for training")
        self._check_tensor_names(name)
        n_embd = int(self.value(f"{arch}.embedding_length"))
        n_head = int(self.value(f"{arch}.attention.head_count"))
        head_dim = int(self.value(f"{arch}.attention.key_length", 0) or n_embd // n_head)
        factor = float(self.value(f"{arch}.rope.scaling.factor", 0.0) or 0.0)
        return ModelConfig(
            arch=arch,
            n_layer=int(self.value(f"{arch}.block_count")),
            n_embd=n_embd,
            n_ff=int(self.value(f"{arch}.feed_forward_length")),
            n_head=n_head,
            n_head_kv=int(self.value(f"{arch}.attention.head_count_kv", 0) or n_head),
            head_dim=head_dim,
            n_rot=int(self.value(f"{arch}.rope.dimension_count", 0) or head_dim),
            rope_base=float(self.value(f"{arch}.rope.freq_base", 10000.0)),
            rope_scale=1.0 / factor if scaling == "linear" and factor > 0 else 1.0,
            rope_neox=ROPE_NEOX[arch],
            rms_eps=float(self.value(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)),
            n_vocab=int(self.tensors["token_embd.weight"].shape[1]),
            tied_output="output.weight" not in self.tensors,
            qkv_bias="blk.0.attn_q.bias" in self.tensors,
            freq_factors="rope_freqs.weight" in self.tensors,
        )

    def _check_tensor_names(self, name: str) -> None:
        """Every tensor must be one this implementation uses: an unknown one means a variant we would get wrong."""
        for tensor in self.tensors:
            if tensor in _GLOBAL_TENSORS:
                continue
            match = _BLOCK_TENSOR.fullmatch(tensor)
            known = match and (
                (match[3] == "weight" and match[2] in _BLOCK_WEIGHTS)
                or (match[3] == "bias" and match[2] in _QKV_BIASES)
            )
            if not known:
                raise UnsupportedModelError(
                    f"{name}: tensor {tensor!r} is not part of the {self.arch} layout this trainer implements")
        for required in ("token_embd.weight", "output_norm.weight"):
            if required not in self.tensors:
                raise UnsupportedModelError(f"{name}: tensor {required!r} is missing")

    def tensor(self, name: str) -> Any:
        """The tensor dequantized to a float32 numpy array in GGUF layout (numpy shape = reversed ne)."""
        import gguf
        import numpy as np

        info = self.tensors[name]
        try:
            values = gguf.quants.dequantize(info.data, info.tensor_type)
        except NotImplementedError:
            raise UnsupportedModelError(
                f"{self.path.name}: tensor {name} is stored as {info.tensor_type.name}, which the gguf package "
                "cannot dequantize") from None
        shape = tuple(int(n) for n in reversed(info.shape.tolist()))
        # A copy: F32 tensors would otherwise be read-only views of the memory-mapped file.
        return np.array(values, dtype=np.float32, copy=True).reshape(shape)

    def tensor_type(self, name: str) -> str:
        return self.tensors[name].tensor_type.name


def block_weight(layer: int, projection: str) -> str:
    """The GGUF tensor name of one projection of one block, e.g. blk.3.attn_q.weight."""
    return f"blk.{layer}.{projection}.weight"
