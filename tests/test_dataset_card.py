"""Dataset cards: README.md beside every export, valid YAML front matter + Markdown, never over a user's README."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from localace.card import ALTERNATE_NAME, CARD_MARKER, card_data, hf_license, model_info, render_card, size_category
from localace.cli import cli
from localace.dialogs.model import Dialog, Turn
from localace.formats.write import ExportSummary
from localace.store import open_store
from localace.store.db import utcnow

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (it is in the test extra)")


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    header, _, body = text[4:].partition("\n---\n")
    assert body.strip(), "a card has a Markdown body after its YAML header"
    return yaml.safe_load(header)


@pytest.fixture(scope="module")
def run_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("card") / "r.db"
    res = CliRunner().invoke(cli, ["run", "--db", str(db), "--model", "fake", "--apis", "6", "--dialogs", "6",
                                   "--no-judges", "--max-docs", "6"])
    assert res.exit_code == 0, res.output
    return db


def test_export_writes_a_hugging_face_card_beside_the_data(run_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    res = CliRunner().invoke(cli, ["export", "--db", str(run_db), "--format", "openai", "--out", str(out)])
    assert res.exit_code == 0, res.output
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    header = front_matter(card)
    rows = len(out.read_text(encoding="utf-8").splitlines())
    assert header["license"] == "unknown"  # the fake backend has no catalogue entry to take a licence from
    assert header["language"] == ["en"] and header["task_categories"] == ["text-generation"]
    assert header["size_categories"] == ["n<1K"]
    assert header["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "train.jsonl"}]}]
    assert CARD_MARKER in card
    assert f"| rows | {rows} |" in card
    for section in ("## Files", "## Contents", "### Dialog kinds", "## How it was made", "## Quality", "## License"):
        assert section in card
    assert "| seed | 0 |" in card and "| model › backend | fake |" in card and "| option › k | 3 |" in card
    assert "**rules**:" in card  # the per-check funnel
    assert "self-consistency › assistant steps voted" in card


def test_bfcl_card_has_a_config_for_the_answers(run_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.jsonl"
    res = CliRunner().invoke(cli, ["export", "--db", str(run_db), "--format", "bfcl", "--out", str(out), "--all",
                                   "--license", "MIT"])
    assert res.exit_code == 0, res.output
    header = front_matter((tmp_path / "README.md").read_text(encoding="utf-8"))
    assert header["license"] == "mit"
    assert [c["config_name"] for c in header["configs"]] == ["default", "answers"]
    assert header["configs"][1]["data_files"][0]["path"] == "eval.answers.jsonl"


def test_a_users_readme_is_never_overwritten(run_db: Path, tmp_path: Path) -> None:
    mine = tmp_path / "README.md"
    mine.write_text("# My dataset\n\nHand-written.\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["export", "--db", str(run_db), "--format", "hermes", "--out",
                                   str(tmp_path / "h.jsonl")])
    assert res.exit_code == 0, res.output
    assert mine.read_text(encoding="utf-8") == "# My dataset\n\nHand-written.\n"
    assert "was not written by localace and is left alone" in res.stdout
    assert front_matter((tmp_path / ALTERNATE_NAME).read_text(encoding="utf-8"))["configs"][0]["data_files"][0][
        "path"] == "h.jsonl"


def test_our_own_card_is_replaced_by_the_next_export(run_db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for fmt in ("toolace", "sharegpt"):
        res = runner.invoke(cli, ["export", "--db", str(run_db), "--format", fmt, "--out", str(tmp_path / f"{fmt}.jsonl")])
        assert res.exit_code == 0, res.output
    header = front_matter((tmp_path / "README.md").read_text(encoding="utf-8"))
    assert header["configs"][0]["data_files"][0]["path"] == "sharegpt.jsonl"
    assert not (tmp_path / ALTERNATE_NAME).exists()


def test_run_out_writes_the_card_too(tmp_path: Path) -> None:
    out = tmp_path / "kept.jsonl"
    res = CliRunner().invoke(cli, ["run", "--db", str(tmp_path / "r.db"), "--model", "fake", "--apis", "4",
                                   "--dialogs", "3", "--no-judges", "--max-docs", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    header = front_matter((tmp_path / "README.md").read_text(encoding="utf-8"))
    assert header["configs"][0]["data_files"][0]["path"] == "kept.jsonl"


def test_model_name_and_licence_come_from_the_catalogue_through_the_file_hash(store) -> None:
    sha = "ab" * 32
    store.conn.execute("INSERT INTO file_hashes VALUES (?, ?, ?, ?)",
                       ("/models/SmolLM2-135M-Instruct.Q4_1.gguf", 1, 1, sha))
    info = model_info(store, {"backend": "llama.cpp", "model_sha256": sha, "n_ctx": 4096})
    assert info == {"backend": "llama.cpp", "sha256": sha, "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
                    "name": "smollm2-135m-instruct", "license": "Apache-2.0", "n_ctx": 4096}
    store.conn.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)", (
        "p1", utcnow(), "run", json.dumps({"seed": 5, "k": 3, "models": {"generator": {"backend": "llama.cpp",
                                                                                         "model_sha256": sha}}}),
        "h", "done", json.dumps({"dialog_run": "d1", "funnels": []})))
    dialog = Dialog(kind="non_tool", tools=[], turns=[Turn(role="user", content="Hi"),
                                                      Turn(role="assistant", content="Hello!", action="answer")])
    store.conn.execute("INSERT INTO dialogs (id, run_id, kind, status, data_json, created_at) VALUES "
                       "(?, 'd1', 'non_tool', 'kept', ?, ?)", (dialog.id, dialog.model_dump_json(), utcnow()))
    summary = ExportSummary(Path("out/train.jsonl"), rows=1, fmt="openai", dialogs=1, kinds={"non_tool": 1})
    data = card_data(store, summary, run_id="d1")
    assert data["license"] == "apache-2.0" and data["license_source"] == "the generating model's catalogue entry"
    assert data["runs"][0]["seed"] == 5 and data["runs"][0]["model"]["name"] == "smollm2-135m-instruct"


def test_render_card_takes_any_quality_figures() -> None:
    """The lead adds quality measures as keys; the card shows them without code changes."""
    data = {"pretty_name": "x: a 'name' with # signs", "license": "other", "license_name": "Custom: see below",
            "language": ["en"], "task_categories": ["text-generation"], "tags": ["yes", "no", "null", "1.5"],
            "size_category": "1K<n<10K", "files": [{"config": "default", "split": "train", "path": "a b.jsonl"}],
            "format": {"name": "toolace", "description": "ToolACE rows."}, "load_snippet": "print(1)",
            "counts": {"rows": 1500}, "selection": {"dialogs": "kept"}, "runs": [], "kinds": {}, "domains": {},
            "quality": {"grounded arguments": 0.97, "judge agreement": {"hallucination": 0.9}},
            "localace_version": "0.1.0"}
    card = render_card(data)
    header = front_matter(card)
    assert header["pretty_name"] == "x: a 'name' with # signs" and header["tags"] == ["yes", "no", "null", "1.5"]
    assert header["license_name"] == "Custom: see below"
    assert header["configs"][0]["data_files"][0]["path"] == "a b.jsonl"
    assert "| grounded arguments | 0.97 |" in card and "| judge agreement › hallucination | 0.9 |" in card
    assert "## Contents" in card and "### Dialog kinds" not in card  # empty sections are left out


@pytest.mark.parametrize(("n", "label"), [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (99_999, "10K<n<100K"),
                                          (100_000, "100K<n<1M"), (10**9, "n>100M")])
def test_size_categories(n: int, label: str) -> None:
    assert size_category(n) == label


def test_licence_names_map_to_hub_ids() -> None:
    assert hf_license("Apache-2.0") == ("apache-2.0", None)
    assert hf_license("Llama 3.1 Community License") == ("llama3.1", None)
    assert hf_license("My Corp EULA") == ("other", "My Corp EULA")
    assert hf_license("CC-BY-SA-4.0") == ("cc-by-sa-4.0", None)
    assert hf_license(None) == ("unknown", None)


def test_unwritable_card_folder_is_one_clear_error(run_db: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["export", "--db", str(run_db), "--format", "openai", "--out",
                                   str(tmp_path / "missing" / "x.jsonl")])
    assert res.exit_code == 2 and "does not exist" in res.stderr and "Traceback" not in res.output


def test_store_fixture_is_clean(store) -> None:
    """card_data on a store with no dialogs selected still gives a renderable card."""
    summary = ExportSummary(Path("t.jsonl"), rows=0, fmt="openai")
    header = front_matter(render_card(card_data(store, summary)))
    assert header["size_categories"] == ["n<1K"]
