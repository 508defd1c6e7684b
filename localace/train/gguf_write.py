"""Write what training produces: a llama.cpp LoRA adapter GGUF, or a merged full model in F16/F32.

The adapter layout is the one llama.cpp's loader (src/llama-adapter.cpp) checks: general.type=adapter,
general.architecture equal to the model's, adapter.type=lora, adapter.lora.alpha as FLOAT32 (read with
gguf_get_val_f32), and per adapted weight W (ne = [in, out]) the pair `<W>.lora_a` with ne = [in, rank]
(numpy rank x in) and `<W>.lora_b` with ne = [rank, out] (numpy out x rank). llama.cpp adds
(alpha / rank) * B @ (A @ x), rank read from lora_b's ne[0]."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localace.errors import UserError
from localace.train.gguf_model import GgufModel

MERGE_TYPES = ("f16", "f32")
# Keys the writer sets itself or that describe the source file's own encoding.
_NOT_COPIED = {"general.architecture", "general.file_type", "general.alignment"}
_FILE_TYPE = {"f32": 0, "f16": 1}  # llama_ftype: ALL_F32, MOSTLY_F16


def _writer(path: Path, arch: str) -> Any:
    import gguf

    if not path.parent.exists():
        raise UserError(f"cannot write {path}: folder {path.parent} does not exist")
    return gguf.GGUFWriter(str(_tmp(path)), arch)


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def _finish(writer: Any, path: Path) -> None:
    """Write header, metadata and tensors under a temporary name, then move into place (a kill never leaves
    a half-written adapter where a previous good one was)."""
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(_tmp(path), path)
    except OSError as error:
        _tmp(path).unlink(missing_ok=True)
        raise UserError(f"cannot write {path}: {error.strerror}") from None


def write_adapter(path: str | Path, arch: str, alpha: float, factors: Mapping[str, tuple[Any, Any]]) -> Path:
    """A LoRA adapter GGUF from {GGUF weight name: (A rank x in, B out x rank)} numpy float32 arrays."""
    import gguf
    import numpy as np

    path = Path(path)
    writer = _writer(path, arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for name in sorted(factors):
        a, b = factors[name]
        writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b, dtype=np.float32))
    _finish(writer, path)
    return path


def copy_metadata(model: GgufModel, writer: Any) -> None:
    """Every key/value of the source model (chat template, tokenizer, hyperparameters) into writer."""
    import gguf

    for key, field in model.reader.fields.items():
        if key.startswith("GGUF.") or key in _NOT_COPIED or not field.types:
            continue
        main = field.types[0]
        value = field.contents()
        if main == gguf.GGUFValueType.ARRAY:
            if len(field.types) > 2:
                raise UserError(f"{model.path.name}: metadata {key} is a nested array, which cannot be copied")
            if not value:
                continue  # the gguf writer cannot write an empty array
            writer.add_key_value(key, value, main, sub_type=field.types[-1])
        else:
            writer.add_key_value(key, value, main)


def write_merged(path: str | Path, model: GgufModel, replaced: Mapping[str, Any], dtype: str = "f16") -> Path:
    """A full GGUF with the source's metadata and every tensor dequantized to `dtype` (1-D tensors stay F32,
    as llama.cpp's converters write them); tensors in `replaced` (numpy, GGUF layout) take the new values.
    Never requantized: small adapter updates do not survive Q4_1."""
    import numpy as np

    if dtype not in MERGE_TYPES:
        raise UserError(f"cannot merge to {dtype!r}; choose one of {', '.join(MERGE_TYPES)}")
    path = Path(path)
    writer = _writer(path, model.arch)
    copy_metadata(model, writer)
    writer.add_uint32("general.file_type", _FILE_TYPE[dtype])
    for name in model.tensors:
        values = replaced[name] if name in replaced else model.tensor(name)
        values = np.asarray(values, dtype=np.float32)
        if dtype == "f16" and values.ndim > 1:
            values = values.astype(np.float16)
        writer.add_tensor(name, np.ascontiguousarray(values))
    _finish(writer, path)
    return path
