"""BFCL stays a yardstick: its functions never enter the API pool or an imported dataset."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from localace.cli import cli
from localace.bfcl_package import YARDSTICK_REASON, category_files, is_benchmark_function

pytestmark = pytest.mark.skipif(importlib.util.find_spec("bfcl_eval") is None,
                                reason="bfcl-eval is not installed (pip install --no-deps bfcl-eval)")


def _first_function(category: str) -> dict:
    questions, _ = category_files(category)
    return json.loads(questions.read_text().splitlines()[0])["function"][0]


def test_benchmark_functions_are_recognized_by_name_and_description() -> None:
    function = _first_function("simple_python")
    assert is_benchmark_function(function["name"], function["description"])
    assert is_benchmark_function(function["name"], "  " + function["description"].upper())  # spacing, case
    assert not is_benchmark_function(function["name"], "A different tool with the same name.")


def test_apis_import_refuses_bfcl_files(tmp_path: Path) -> None:
    questions, _ = category_files("simple_javascript")
    res = CliRunner().invoke(cli, ["apis", "import", "--db", str(tmp_path / "a.db"), str(questions)])
    assert res.exit_code == 2, res.output
    assert "0 APIs imported" in res.stdout and YARDSTICK_REASON in res.stdout


def test_dialog_import_refuses_rows_offering_a_bfcl_function(tmp_path: Path) -> None:
    bfcl = _first_function("live_simple")
    own = {"name": "lookup_order", "description": "Look up an order by its id.",
           "parameters": {"type": "object", "properties": {"id": {"type": "string", "description": "Order id."}}}}
    def row(function: dict) -> str:
        return json.dumps({"messages": [{"role": "user", "content": "Help me."},
                                        {"role": "assistant", "content": "Sure, what do you need?"}],
                           "tools": [{"type": "function", "function": function}]})
    path = tmp_path / "mixed.jsonl"
    path.write_text(row(own) + "\n" + row(bfcl) + "\n")
    res = CliRunner().invoke(cli, ["import", "--db", str(tmp_path / "d.db"), "--format", "openai", str(path)])
    assert res.exit_code == 0, res.output
    assert "1 dialogs imported" in res.stdout and "1 malformed rows" in res.stdout
    assert f"line 2: tool {bfcl['name']!r} is {YARDSTICK_REASON}" in res.stdout
