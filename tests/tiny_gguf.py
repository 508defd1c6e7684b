"""Tiny random GGUF models for the training tests: a byte-level BPE vocabulary, a ChatML template, a few layers.

llama.cpp loads them like any model, so the torch implementation, the adapter writer and the tokenization
can be checked against llama.cpp itself in milliseconds instead of on a 135M model."""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGED = "Ġt"  # " t"
VOCAB_SIZE = len(SPECIAL) + 256 + 1


def byte_tokens() -> list[str]:
    """GPT-2's byte-to-unicode alphabet: one token per byte, as byte-level BPE vocabularies spell them."""
    printable = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    chars, shifted = [], 0
    for byte in range(256):
        if byte in printable:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + shifted))
            shifted += 1
    return chars


def write_tiny_model(path: Path, *, arch: str = "llama", seed: int = 0, n_layer: int = 2, n_embd: int = 64,
                     n_head: int = 4, n_head_kv: int = 2, n_ff: int = 128, tied: bool = True,
                     quant: str = "Q8_0", template: str | None = CHATML, extra_tensor: str | None = None) -> Path:
    """A random model llama.cpp can run. quant: storage type of the block projections (F32, F16, Q8_0, Q4_1);
    tied=False adds an output.weight; arch qwen2 adds q/k/v biases; extra_tensor adds an unknown tensor."""
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    tokens = SPECIAL + byte_tokens() + [MERGED]
    head_dim = n_embd // n_head

    def rand(*shape: int, scale: float = 0.15) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(n_layer)
    writer.add_context_length(1024)
    writer.add_embedding_length(n_embd)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2" if arch == "qwen2" else "default")
    writer.add_token_list(tokens)
    writer.add_token_types([3] * len(SPECIAL) + [1] * 257)
    writer.add_token_merges([" ".join(MERGED)])  # llama.cpp wants a merge list; one merge, into a known token
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(False)
    if template:
        writer.add_chat_template(template)
    writer.add_tensor("token_embd.weight", rand(len(tokens), n_embd, scale=0.5).astype(np.float16))
    writer.add_tensor("output_norm.weight", (1 + rand(n_embd)).astype(np.float32))
    if not tied:
        writer.add_tensor("output.weight", rand(len(tokens), n_embd, scale=0.5))
    qtype = getattr(gguf.GGMLQuantizationType, quant)
    shapes = {"attn_q": (n_head * head_dim, n_embd), "attn_k": (n_head_kv * head_dim, n_embd),
              "attn_v": (n_head_kv * head_dim, n_embd), "attn_output": (n_embd, n_head * head_dim),
              "ffn_gate": (n_ff, n_embd), "ffn_up": (n_ff, n_embd), "ffn_down": (n_embd, n_ff)}
    for layer in range(n_layer):
        writer.add_tensor(f"blk.{layer}.attn_norm.weight", 1 + rand(n_embd))
        writer.add_tensor(f"blk.{layer}.ffn_norm.weight", 1 + rand(n_embd))
        for name, shape in shapes.items():
            stored = gguf.quants.quantize(rand(*shape), qtype)
            writer.add_tensor(f"blk.{layer}.{name}.weight", stored, raw_shape=stored.shape, raw_dtype=qtype)
            if arch == "qwen2" and name in ("attn_q", "attn_k", "attn_v"):
                writer.add_tensor(f"blk.{layer}.{name}.bias", rand(shape[0]))
    if extra_tensor:
        writer.add_tensor(extra_tensor, rand(n_embd))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
