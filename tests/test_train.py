"""`localace train`: the torch llama against llama.cpp, the adapter file, tokenization, training and resume.

Fast tests run on tiny random GGUF models (tests/tiny_gguf.py) that llama.cpp loads like any model; the
`model` ones check the same equivalences on the embedded SmolLM2-135M."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch", reason="the train extra (torch) is not installed")
pytest.importorskip("gguf", reason="the train extra (gguf) is not installed")

from localace.cli import cli  # noqa: E402
from localace.dialogs.generate import insert_dialog  # noqa: E402
from localace.apis.spec import ApiSpec  # noqa: E402
from localace.dialogs.model import Dialog, ToolCall, Turn  # noqa: E402
from localace.model_catalogue import ModelRef, resolve_model  # noqa: E402
from localace.runs import ensure_run  # noqa: E402
from localace.store import open_store  # noqa: E402
from localace.train.examples import ChatTokenizer, build_examples  # noqa: E402
from localace.train.gguf_model import GgufModel, UnsupportedModelError  # noqa: E402
from localace.train.gguf_write import write_adapter, write_merged  # noqa: E402
from localace.train.llama import Lora, TorchLlama, lora_shapes, lora_state  # noqa: E402
from localace.train.trainer import TrainConfig, Trainer, training_run  # noqa: E402
from tiny_gguf import VOCAB_SIZE, write_tiny_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DIALOGS = sorted((Path(__file__).parent / "fixtures" / "dialogs").glob("good_*.json"))
TEXT = ("<|im_start|>system\nYou can call get_weather(city).<|im_end|>\n<|im_start|>user\nWeather in Paris?"
        "<|im_end|>\n<|im_start|>assistant\n[get_weather(city=\"Paris\")]<|im_end|>\n")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def good_dialogs() -> list[Dialog]:
    return [Dialog.model_validate_json(p.read_text(encoding="utf-8")) for p in DIALOGS]


def short_dialogs(n: int) -> list[Dialog]:
    """Small single-call dialogs (a few hundred byte tokens each), so training tests take seconds."""
    tool = ApiSpec(name="add", description="Add two numbers.", returns={"type": "integer"},
                   parameters={"type": "object", "properties": {"a": {"type": "integer", "description": "First."},
                                                             "b": {"type": "integer", "description": "Second."}},
                               "required": ["a", "b"]})
    return [Dialog(kind="single", tools=[tool], turns=[
        Turn(role="user", content=f"What is {i} plus {i + 1}?"),
        Turn(role="assistant", action="call", tool_calls=[ToolCall(name="add", arguments={"a": i, "b": i + 1})]),
    ]) for i in range(n)]


def ref_of(path: Path) -> ModelRef:
    return ModelRef(path.stem, path, "from GGUF", 0)


def llama_logits(path: Path, tokens: list[int], lora: Path | None = None) -> np.ndarray:
    """llama.cpp's logits at every position, with an F32 KV cache so that only the weights' math is compared."""
    import llama_cpp

    llama = llama_cpp.Llama(model_path=str(path), n_ctx=1024, logits_all=True, verbose=False, n_threads=1,
                            type_k=0, type_v=0, lora_path=str(lora) if lora else None)
    llama.eval(tokens)
    return np.array(llama.scores[: len(tokens)])


def tokens_of(path: Path, text: str = TEXT) -> list[int]:
    return ChatTokenizer(ref_of(path)).tokenize(text)


def random_lora(model: GgufModel, seed: int = 1, std: float = 0.05) -> Lora:
    lora = Lora(lora_shapes(model), rank=4, alpha=8.0, seed=seed)
    generator = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for b in lora.b:
            b.normal_(0.0, std, generator=generator)
    return lora


def kept_store(path: Path, dialogs: list[Dialog], status: str = "kept"):
    store = open_store(path)
    run = ensure_run(store, "import", {"test": str(path)})
    with store.transaction():
        for seq, dialog in enumerate(dialogs):
            insert_dialog(store, dialog, run.id, seq, status=status)
    return store, run.id


# ---------------------------------------------------------------- the torch model is llama.cpp's model


@pytest.mark.parametrize("arch,tied,quant", [("llama", True, "Q8_0"), ("llama", False, "Q4_1"), ("qwen2", True, "F16")])
def test_torch_forward_matches_llama_cpp_on_the_dequantized_model(tmp_path, arch, tied, quant):
    model = GgufModel(write_tiny_model(tmp_path / "m.gguf", arch=arch, tied=tied, quant=quant))
    f32 = write_merged(tmp_path / "m.f32.gguf", model, {}, "f32")
    tokens = tokens_of(f32)
    expected = llama_logits(f32, tokens)
    with torch.no_grad():
        ours = TorchLlama(model).forward(torch.tensor(tokens)).numpy()
    # Measured: ~3e-5 on logits of magnitude ~17 (llama.cpp with an F32 KV cache on the F32 file).
    assert np.abs(ours - expected).max() < 1e-3
    assert (ours.argmax(-1) == expected.argmax(-1)).all()


def test_a_zero_b_adapter_leaves_llama_cpp_logits_unchanged(tmp_path):
    path = write_tiny_model(tmp_path / "m.gguf")
    model = GgufModel(path)
    lora = Lora(lora_shapes(model), rank=4, alpha=8.0, seed=3)  # fresh: A random, B zero
    adapter = write_adapter(tmp_path / "zero.gguf", model.arch, lora.alpha, lora_state(lora))
    tokens = tokens_of(path)
    assert np.array_equal(llama_logits(path, tokens, adapter), llama_logits(path, tokens))


def test_a_random_adapter_in_llama_cpp_matches_the_torch_model_with_it_merged(tmp_path):
    model = GgufModel(write_tiny_model(tmp_path / "m.gguf", tied=False))
    f32 = write_merged(tmp_path / "m.f32.gguf", model, {}, "f32")
    base = TorchLlama(model)
    lora = random_lora(model)
    adapter = write_adapter(tmp_path / "a.gguf", model.arch, lora.alpha, lora_state(lora))
    merged = write_merged(tmp_path / "merged.gguf", model, {k: v.numpy() for k, v in base.merged(lora).items()}, "f32")
    tokens = tokens_of(f32)
    with torch.no_grad():
        ours = base.forward(torch.tensor(tokens), lora).numpy()
        plain = base.forward(torch.tensor(tokens)).numpy()
    with_adapter = llama_logits(f32, tokens, adapter)
    assert np.abs(plain - ours).max() > 1.0  # the adapter does change the model
    assert np.abs(with_adapter - ours).max() < 1e-3
    assert np.abs(llama_logits(merged, tokens) - ours).max() < 1e-3


def test_adapter_file_has_the_layout_llama_cpp_expects(tmp_path):
    import gguf

    model = GgufModel(write_tiny_model(tmp_path / "m.gguf"))
    lora = random_lora(model)
    reader = gguf.GGUFReader(str(write_adapter(tmp_path / "a.gguf", model.arch, lora.alpha, lora_state(lora))))
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["general.architecture"].contents() == "llama"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert reader.fields["adapter.lora.alpha"].types == [gguf.GGUFValueType.FLOAT32]
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 2 * 2 * 7  # two layers, seven projections, A and B
    q = model.tensors["blk.0.attn_q.weight"].shape.tolist()  # ne = [in, out]
    assert tensors["blk.0.attn_q.weight.lora_a"].shape.tolist() == [q[0], 4]  # ne = [in, rank]
    assert tensors["blk.0.attn_q.weight.lora_b"].shape.tolist() == [4, q[1]]  # ne = [rank, out]


def test_merge_f16_keeps_the_metadata_and_loads_in_llama_cpp(tmp_path):
    import gguf

    model = GgufModel(write_tiny_model(tmp_path / "m.gguf", quant="Q4_1"))
    merged = write_merged(tmp_path / "m16.gguf", model, {}, "f16")
    reader = gguf.GGUFReader(str(merged))
    assert reader.fields["tokenizer.chat_template"].contents() == model.value("tokenizer.chat_template")
    assert reader.fields["general.file_type"].contents() == 1
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.attn_q.weight"] == "F16" and types["blk.0.attn_norm.weight"] == "F32"
    tokens = tokens_of(merged)
    assert llama_logits(merged, tokens).shape == (len(tokens), VOCAB_SIZE)


# ---------------------------------------------------------------- refusals


def test_unsupported_architecture_is_refused_in_one_line(tmp_path):
    path = write_tiny_model(tmp_path / "g.gguf", arch="gemma")
    with pytest.raises(UnsupportedModelError, match=r"architecture 'gemma' is not supported"):
        GgufModel(path).config


def test_unknown_tensors_are_refused_rather_than_ignored(tmp_path):
    path = write_tiny_model(tmp_path / "q.gguf", extra_tensor="blk.0.attn_q_norm.weight")
    with pytest.raises(UnsupportedModelError, match="attn_q_norm"):
        GgufModel(path).config


def test_cli_unsupported_architecture_exits_2_with_one_line(tmp_path):
    model = write_tiny_model(tmp_path / "g.gguf", arch="gemma")
    store, _ = kept_store(tmp_path / "d.db", good_dialogs())
    store.close()
    res = CliRunner().invoke(cli, ["train", "--db", str(tmp_path / "d.db"), "--model", str(model),
                                   "--out", str(tmp_path / "a.gguf")])
    assert res.exit_code == 2
    assert "architecture 'gemma' is not supported" in res.output and len(res.output.strip().splitlines()) == 1


def test_cli_run_without_kept_dialogs_exits_2_with_one_line(tmp_path):
    model = write_tiny_model(tmp_path / "m.gguf")
    store, run_id = kept_store(tmp_path / "d.db", good_dialogs(), status="rejected")
    store.close()
    for extra in ([], ["--run", run_id]):
        res = CliRunner().invoke(cli, ["train", "--db", str(tmp_path / "d.db"), "--model", str(model),
                                       "--out", str(tmp_path / "a.gguf"), *extra])
        assert res.exit_code == 2, res.output
        assert "no kept dialogs" in res.output and len(res.output.strip().splitlines()) == 1
    res = CliRunner().invoke(cli, ["train", "--db", str(tmp_path / "d.db"), "--model", str(model),
                                   "--out", str(tmp_path / "a.gguf"), "--run", "nosuchrun"])
    assert res.exit_code == 2 and "no dialogs of run nosuchrun" in res.output


# ---------------------------------------------------------------- tokenization


def test_examples_train_exactly_the_assistant_replies_as_inference_tokenizes_them(tmp_path):
    path = write_tiny_model(tmp_path / "m.gguf")
    tokenizer = ChatTokenizer(ref_of(path))
    dialogs = good_dialogs()
    examples = build_examples(dialogs, "toolace", tokenizer, max_tokens=100_000)
    assert len(examples.examples) == len(dialogs) and not examples.skipped
    llama = tokenizer.llama
    for dialog, example in zip(dialogs, examples.examples):
        replies = [t for t in dialog.turns if t.role == "assistant"]
        assert len(example.spans) == len(replies)
        for (start, end), turn in zip(example.spans, replies):
            text = llama.detokenize(list(example.tokens[start:end]), special=True).decode()
            assert text.endswith("<|im_end|>")  # the end-of-turn token is learned too
            if turn.tool_calls is None:
                assert text == (turn.content or "") + "<|im_end|>"
            else:
                assert text.startswith("[") and turn.tool_calls[0].name in text
    # the inference prompt of the first reply is the example's prefix, token for token
    first = examples.examples[0]
    from localace.train.examples import row_messages
    from localace.formats.registry import export_rows

    row = next(iter(export_rows(dialogs[:1], "toolace")))
    messages, _ = row_messages(row, "toolace")
    prompt = tokenizer.tokenize(tokenizer.prompt_formatter(messages=messages[:2]).prompt)
    assert list(first.tokens[: len(prompt)]) == prompt and first.spans[0][0] == len(prompt)


def test_examples_count_what_they_leave_out(tmp_path):
    tokenizer = ChatTokenizer(ref_of(write_tiny_model(tmp_path / "m.gguf")))
    examples = build_examples(good_dialogs(), "toolace", tokenizer, max_tokens=900)
    assert examples.skipped["too_long"] > 0
    assert len(examples.examples) + examples.skipped["too_long"] == len(DIALOGS)


def test_openai_format_needs_a_template_that_renders_tools(tmp_path):
    from localace.errors import UserError

    tokenizer = ChatTokenizer(ref_of(write_tiny_model(tmp_path / "m.gguf")))
    with pytest.raises(UserError, match="does not render a tool list"):
        build_examples(good_dialogs(), "openai", tokenizer)


# A ChatML template that renders OpenAI tools and tool calls the way Qwen-style templates do.
TOOLS_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' %}<|im_start|>system\n{{ m['content'] }}"
    "{% if tools %}\n<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>{% endif %}<|im_end|>\n"
    "{% elif m['role'] == 'assistant' and m['tool_calls'] %}<|im_start|>assistant\n{% for c in m['tool_calls'] %}"
    "<tool_call>{{ {'name': c['function']['name'], 'arguments': c['function']['arguments']} | tojson }}</tool_call>"
    "{% endfor %}<|im_end|>\n{% else %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_openai_format_trains_the_tool_calls_the_template_renders(tmp_path):
    tokenizer = ChatTokenizer(ref_of(write_tiny_model(tmp_path / "m.gguf", template=TOOLS_TEMPLATE)))
    examples = build_examples(short_dialogs(1), "openai", tokenizer)
    (example,) = examples.examples
    (start, end), = example.spans
    reply = tokenizer.llama.detokenize(list(example.tokens[start:end]), special=True).decode()
    # arguments reach the template as a mapping (not a JSON string inside JSON)
    assert reply == '<tool_call>{"name": "add", "arguments": {"a": 0, "b": 1}}</tool_call><|im_end|>'
    prompt = tokenizer.llama.detokenize(list(example.tokens[:start]), special=True).decode()
    assert '<tools>{"type": "function"' in prompt


# ---------------------------------------------------------------- training


TRAIN_MODEL = {"n_layer": 1, "n_embd": 32, "n_head": 2, "n_head_kv": 1, "n_ff": 64}


def _examples(tmp_path: Path, n: int = 3):
    path = write_tiny_model(tmp_path / "m.gguf", **TRAIN_MODEL)
    examples = build_examples(short_dialogs(n), "toolace", ChatTokenizer(ref_of(path)))
    return path, examples


def test_a_tiny_overfit_run_drives_the_loss_down(tmp_path):
    path, examples = _examples(tmp_path, n=2)
    store = open_store(tmp_path / "t.db")
    cfg = TrainConfig(rank=8, alpha=16, lr=3e-2, epochs=12, batch=2, warmup=0.0)
    run = training_run(store, "sha", examples, cfg, "toolace")
    trainer = Trainer(store, GgufModel(path), examples.examples, cfg, run.id, save_every=1000)
    losses = [event.loss for event in trainer.steps()]
    assert len(losses) == 12 and trainer.done
    assert losses[-1] < 0.25 * losses[0], losses  # measured: 12.3 -> 0.93
    assert store.conn.execute("SELECT step FROM train_checkpoints WHERE run_id=?", (run.id,)).fetchone()[0] == 12


def test_training_is_deterministic_and_the_lr_schedule_warms_up_then_decays(tmp_path):
    path, examples = _examples(tmp_path, n=2)
    cfg = TrainConfig(epochs=2, batch=1, warmup=0.25)
    adapters = []
    for name in ("a", "b"):
        store = open_store(tmp_path / f"{name}.db")
        run = training_run(store, "sha", examples, cfg, "toolace")
        trainer = Trainer(store, GgufModel(path), examples.examples, cfg, run.id)
        list(trainer.steps())
        adapters.append(trainer.write_adapter(tmp_path / f"{name}.gguf").read_bytes())
    assert adapters[0] == adapters[1]
    assert [trainer.lr_at(s) for s in range(4)] == pytest.approx([1e-3, 1e-3 * 3 / 3, 1e-3 * 2 / 3, 1e-3 * 1 / 3])


_KILLER = """
import os, signal, sys
import localace.train.trainer as trainer
real = trainer.save_checkpoint
def save_then_die(store, run_id, checkpoint):
    real(store, run_id, checkpoint)
    if checkpoint.step >= {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)
trainer.save_checkpoint = save_then_die
from localace.cli import main
sys.argv = ["localace", *{args!r}]
main()
"""


def test_a_killed_training_resumes_from_its_checkpoint_and_ends_like_an_uninterrupted_one(tmp_path, monkeypatch):
    from localace.formats.write import write_export

    monkeypatch.setenv("LOCALACE_THREADS", "1")
    model = write_tiny_model(tmp_path / "m.gguf", **TRAIN_MODEL)
    data = tmp_path / "data.jsonl"
    write_export(short_dialogs(4), "toolace", data)  # read back with --data like any dataset

    def args(name: str) -> list[str]:
        return ["train", "--db", str(tmp_path / f"{name}.db"), "--model", str(model), "--data", str(data),
                "--data-format", "toolace", "--out", str(tmp_path / f"{name}.gguf"), "--epochs", "3", "--batch", "2",
                "--save-every", "1"]

    whole = CliRunner().invoke(cli, args("whole"))
    assert whole.exit_code == 0, whole.output
    # A separate process killed with SIGKILL right after its third checkpoint: nothing runs after the kill.
    killed = subprocess.run([sys.executable, "-c", _KILLER.format(kill_at=3, args=args("resumed"))],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    assert not (tmp_path / "resumed.gguf").exists()
    resumed = CliRunner().invoke(cli, args("resumed"))
    assert resumed.exit_code == 0, resumed.output
    assert "resuming at step 3" in resumed.stderr
    assert (tmp_path / "resumed.gguf").read_bytes() == (tmp_path / "whole.gguf").read_bytes()
    again = CliRunner().invoke(cli, args("resumed"))  # a finished run only writes its adapter again
    assert again.exit_code == 0 and "already trained" in again.stderr
    assert (tmp_path / "resumed.gguf").read_bytes() == (tmp_path / "whole.gguf").read_bytes()


def test_cli_trains_on_a_run_and_the_adapter_loads_with_lora(tmp_path):
    model = write_tiny_model(tmp_path / "m.gguf", **TRAIN_MODEL)
    store, run_id = kept_store(tmp_path / "d.db", short_dialogs(3))
    store.close()
    out = tmp_path / "a.gguf"
    res = CliRunner().invoke(cli, ["train", "--db", str(tmp_path / "d.db"), "--model", str(model), "--run", run_id,
                                   "--out", str(out), "--format", "hermes", "--epochs", "1", "--merge", "f16"])
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.stdout and out.with_name("a.merged-f16.gguf").exists()
    from localace.backends import make_backend

    tuned = make_backend(str(model), lora=str(out))
    assert tuned.llama is not None  # llama.cpp accepted the adapter
    base = make_backend(str(model))
    assert "lora_sha256" in tuned.fingerprint() and "lora_sha256" not in base.fingerprint()


# ---------------------------------------------------------------- the embedded model


@pytest.mark.model
def test_embedded_model_torch_forward_and_adapter_match_llama_cpp(tmp_path):
    ref = resolve_model(None)
    model = GgufModel(ref.path)
    base = TorchLlama(model)
    f32 = write_merged(tmp_path / "smol.f32.gguf", model, {}, "f32")
    lora = random_lora(model, std=0.02)
    lora_8 = Lora(lora_shapes(model), rank=8, alpha=16.0, seed=0)
    size = write_adapter(tmp_path / "r8.gguf", model.arch, 16.0, lora_state(lora_8)).stat().st_size
    assert 9e6 < size < 11e6  # rank 8 over every projection of SmolLM2-135M: ~9.8 MB in F32
    adapter = write_adapter(tmp_path / "a.gguf", model.arch, lora.alpha, lora_state(lora))
    tokens = ChatTokenizer(ref).tokenize(TEXT)
    with torch.no_grad():
        ours = base.forward(torch.tensor(tokens)).numpy()
        ours_adapted = base.forward(torch.tensor(tokens), lora).numpy()
    # Measured: 9.1e-5 (base) and 7.8e-5 (with a random adapter) on logits up to ~38.
    assert np.abs(llama_logits(f32, tokens) - ours).max() < 1e-3
    assert np.abs(llama_logits(f32, tokens, adapter) - ours_adapted).max() < 1e-3
    # and on the Q4_1 file itself (llama.cpp also quantizes activations there) the greedy tokens mostly agree
    assert (llama_logits(ref.path, tokens).argmax(-1) == ours.argmax(-1)).mean() > 0.9


@pytest.mark.model
def test_embedded_model_examples_start_with_the_backends_own_prompt_tokens(embedded_model):
    dialog = good_dialogs()[0]
    tokenizer = ChatTokenizer(embedded_model.model)
    examples = build_examples([dialog], "toolace", tokenizer)
    from localace.formats.registry import export_rows
    from localace.train.examples import row_messages

    messages, _ = row_messages(next(iter(export_rows([dialog], "toolace"))), "toolace")
    first_reply = next(i for i, m in enumerate(messages) if m["role"] == "assistant")
    prompt = embedded_model.tokenize(embedded_model.render_prompt(messages[:first_reply]))
    example = examples.examples[0]
    assert list(example.tokens[: len(prompt)]) == prompt and example.spans[0][0] == len(prompt)
