"""`localace train` without its extra, and `--lora` on the model commands (no torch needed here)."""

from __future__ import annotations

import importlib.util

import pytest
from click.testing import CliRunner

from localace.backends import Sampling, make_backend
from localace.cli import cli
from localace.store.cache import request_key


@pytest.fixture
def runner():
    return CliRunner()


def test_train_without_the_extra_says_in_one_line_how_to_install_it(runner, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name == "torch" else real(name, *a, **k))
    res = runner.invoke(cli, ["train", "--db", str(tmp_path / "d.db"), "--out", str(tmp_path / "a.gguf")])
    assert res.exit_code == 2
    assert "pip install 'localace[train]'" in res.output and "torch" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_train_refuses_the_fake_backend(runner, tmp_path):
    pytest.importorskip("torch", reason="the train extra (torch) is not installed")
    pytest.importorskip("gguf", reason="the train extra (gguf) is not installed")
    res = runner.invoke(cli, ["train", "--model", "fake", "--db", str(tmp_path / "d.db"), "--out", str(tmp_path / "a")])
    assert res.exit_code == 2 and "needs a GGUF model" in res.output


@pytest.mark.parametrize("command", [["generate", "hi"], ["eval", "--data", "x.jsonl"], ["run"], ["apis", "synth"],
                                     ["dialogs", "generate"], ["verify"]])
def test_every_model_command_takes_lora(runner, command):
    res = runner.invoke(cli, [*command, "--help"])
    assert res.exit_code == 0 and "--lora" in res.output


def test_lora_errors_are_one_line(runner, tmp_path):
    db = str(tmp_path / "d.db")
    res = runner.invoke(cli, ["generate", "--db", db, "--model", "fake", "--lora", str(tmp_path / "a.gguf"), "hi"])
    assert res.exit_code == 2 and "--lora needs a GGUF model" in res.output
    res = runner.invoke(cli, ["generate", "--db", db, "--lora", str(tmp_path / "missing.gguf"), "hi"])
    assert res.exit_code == 2 and "--lora: model file not found" in res.output
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"nope")
    res = runner.invoke(cli, ["generate", "--db", db, "--lora", str(not_gguf), "hi"])
    assert res.exit_code == 2 and "--lora: not a GGUF" in res.output
    assert all(len(r.strip().splitlines()) == 1 for r in [res.output])


def test_the_adapter_is_part_of_the_cache_key(tmp_path):
    first, second = tmp_path / "a.gguf", tmp_path / "b.gguf"
    first.write_bytes(b"GGUF" + b"\0" * 64)
    second.write_bytes(b"GGUF" + b"\1" * 64)
    prints = [make_backend(None).fingerprint(), make_backend(None, lora=str(first)).fingerprint(),
              make_backend(None, lora=str(second)).fingerprint()]
    assert "lora_sha256" not in prints[0]  # base-model cache keys are unchanged by this feature
    keys = {request_key(fp, "t", [{"role": "user", "content": "hi"}], None, Sampling()) for fp in prints}
    assert len(keys) == 3
