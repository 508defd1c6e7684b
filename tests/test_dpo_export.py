"""Preference pairs: the stored contract, `export --format dpo` (TRL's conversational preference rows), stats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from localace.apis.spec import ApiSpec
from localace.cli import cli
from localace.dialogs.generate import insert_dialog
from localace.dialogs.model import Dialog, ToolCall, ToolResult, Turn
from localace.dialogs.preferences import DISAGREEMENTS, META_KEY, pair_record, read_pairs
from localace.formats import dpo
from localace.formats.common import FormatNotApplicable
from localace.formats.registry import export_rows
from localace.runs import ensure_run
from localace.stats import preference_pair_counts
from localace.store import open_store


def _spec(name: str, properties: dict[str, Any], required: list[str]) -> ApiSpec:
    return ApiSpec(name=name, description=f"{name}: does one useful thing.",
                   parameters={"type": "object", "properties": properties, "required": required},
                   returns={"type": "object", "description": f"Result of {name}."})


WEATHER = _spec("weather_now", {"city": {"type": "string", "description": "City name."}}, ["city"])
QUOTE = _spec("stock_quote", {"symbol": {"type": "string", "description": "Ticker symbol."}}, ["symbol"])
CONVERT = _spec("convert_currency", {"amount": {"type": "number", "description": "Amount."},
                                     "to": {"type": "string", "description": "Target currency."}}, ["amount", "to"])


def _call(tool: ApiSpec, **arguments: Any) -> Turn:
    return Turn(role="assistant", tool_calls=[ToolCall(name=tool.name, arguments=arguments)], action="call")


def _text(content: str, action: str) -> Turn:
    return Turn(role="assistant", content=content, action=action)


def single_call() -> Dialog:
    """A voted call step that beat a wrong tool and an invented city, and a summary that beat a refusal."""
    turns = [Turn(role="user", content="What's the weather in Paris right now?"),
             _call(WEATHER, city="Paris"),
             Turn(role="tool", tool_results=[ToolResult(name="weather_now", results={"temp_c": 21.5})]),
             _text("It is 21.5 °C in Paris.", "summarize")]
    pairs = [pair_record(1, _call(QUOTE, symbol="PARIS"), "wrong_tool"),
             pair_record(1, _call(WEATHER, city="Lyon"), "ungrounded_arguments"),
             pair_record(3, _text("I cannot look that up.", "answer"), "other")]
    return Dialog(kind="multiple", tools=[WEATHER, QUOTE], turns=turns, domains=["weather"], complexity=0.4,
                  meta={META_KEY: pairs})


def no_tool() -> Dialog:
    turns = [Turn(role="user", content="Tell me a joke about penguins."),
             _text("Why don't penguins fly? They can't afford the tickets.", "answer")]
    pairs = [pair_record(1, _call(WEATHER, city="Antarctica"), "called_when_should_not")]
    return Dialog(kind="non_tool", tools=[WEATHER], turns=turns, domains=["weather"], meta={META_KEY: pairs})


def ask_missing() -> Dialog:
    turns = [Turn(role="user", content="Convert 100 dollars for me."),
             _text("Which currency should I convert to?", "ask_missing"),
             Turn(role="user", content="To euros, please."),
             _call(CONVERT, amount=100, to="EUR")]
    pairs = [pair_record(1, _call(CONVERT, amount=100, to="GBP"), "ungrounded_arguments"),
             pair_record(3, _text("Sure, one moment.", "answer"), "did_not_call")]
    return Dialog(kind="ask_missing", tools=[CONVERT], turns=turns, domains=["finance"], meta={META_KEY: pairs})


def unvoted() -> Dialog:
    turns = [Turn(role="user", content="Weather in Rome?"), _call(WEATHER, city="Rome")]
    return Dialog(kind="single", tools=[WEATHER], turns=turns, domains=["weather"])


# ---------------------------------------------------------------- the contract


def test_pair_record_writes_the_contract_and_validates() -> None:
    record = pair_record(1, _call(WEATHER, city="Lyon"), "ungrounded_arguments")
    assert record == {"turn": 1, "disagreement": "ungrounded_arguments",
                      "rejected": {"role": "assistant", "content": None, "action": "call",
                                   "tool_calls": [{"name": "weather_now", "arguments": {"city": "Lyon"}}]}}
    with pytest.raises(ValidationError):
        pair_record(1, _call(WEATHER, city="Lyon"), "looked_wrong")  # not one of DISAGREEMENTS


def test_read_pairs_drops_unusable_entries_with_reasons() -> None:
    good = single_call()
    broken = good.model_copy(update={"meta": {META_KEY: [
        *good.meta[META_KEY],
        {"turn": 9, "rejected": {"role": "assistant", "content": "x"}, "disagreement": "other"},
        {"turn": 0, "rejected": {"role": "assistant", "content": "x"}, "disagreement": "other"},
        {"turn": 1, "rejected": good.turns[1].model_dump(mode="json"), "disagreement": "other"},
        {"turn": 3, "rejected": {"role": "assistant", "content": "  "}, "disagreement": "other"},
        {"turn": 3, "rejected": {"role": "user", "content": "hi"}, "disagreement": "other"},
        {"turn": 1, "rejected": {"role": "assistant", "content": "x"}, "disagreement": "vibes"},
        {"turn": "3", "rejected": {"role": "assistant", "content": "x"}, "disagreement": "other"},
        "not a pair",
    ]}})
    pairs, dropped = read_pairs(broken)
    assert len(pairs) == 3
    assert dropped == ["turn_out_of_range", "chosen_not_assistant", "rejected_equals_chosen", "rejected_empty",
                       "rejected_not_assistant", "malformed_pair (disagreement)", "malformed_pair (turn)",
                       "malformed_pair"]
    assert read_pairs(unvoted()) == ([], [])


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 9) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)
ENTRY = st.fixed_dictionaries({"turn": st.integers(-2, 6) | JSON,
                               "rejected": st.fixed_dictionaries({"role": st.sampled_from(["assistant", "user", 3]),
                                                                  "content": st.none() | st.text(max_size=8)}) | JSON,
                               "disagreement": st.sampled_from([*DISAGREEMENTS, "nope"]) | JSON}) | JSON


@settings(max_examples=80, deadline=None)
@given(st.lists(ENTRY, max_size=5))
def test_read_pairs_accounts_for_every_stored_entry(entries: list[Any]) -> None:
    """Whatever a generator stored, reading never raises and every entry is either a pair or a reason."""
    stored = single_call().model_copy(update={"meta": {META_KEY: entries}})
    pairs, dropped = read_pairs(stored)
    assert len(pairs) + len(dropped) == len(entries)
    assert all(0 <= p.turn < len(stored.turns) and stored.turns[p.turn].role == "assistant" for p in pairs)


# ---------------------------------------------------------------- rows


def test_rows_are_trl_conversational_preference_rows() -> None:
    rows, dropped = dpo.export_rows(single_call())
    assert dropped == [] and len(rows) == 3
    first = rows[0]
    assert {"prompt", "chosen", "rejected"} <= set(first) and "tools" not in first
    system, question = first["prompt"]
    assert system["role"] == "system" and "<tools>" in system["content"] and '"name": "stock_quote"' in system["content"]
    assert question == {"role": "user", "content": "What's the weather in Paris right now?"}
    assert first["chosen"] == [{"role": "assistant",
                                "content": '<tool_call>\n{"name": "weather_now", "arguments": {"city": "Paris"}}\n</tool_call>'}]
    assert first["rejected"] == [{"role": "assistant",
                                  "content": '<tool_call>\n{"name": "stock_quote", "arguments": {"symbol": "PARIS"}}\n</tool_call>'}]
    assert (first["disagreement"], first["turn"], first["kind"]) == ("wrong_tool", 1, "multiple")
    # the summary step: the prompt carries the call and its result, as the model saw them
    summary = rows[2]
    assert [m["role"] for m in summary["prompt"]] == ["system", "user", "assistant", "tool"]
    assert "<tool_response>" in summary["prompt"][-1]["content"]
    assert summary["chosen"] == [{"role": "assistant", "content": "It is 21.5 °C in Paris."}]
    assert summary["rejected"] == [{"role": "assistant", "content": "I cannot look that up."}]
    assert len({row["id"] for row in rows}) == 3 and {row["dialog_id"] for row in rows} == {single_call().id}


def test_every_message_is_role_and_string_content() -> None:
    """One Arrow type per column: no structured tool_calls whose argument keys differ from row to row."""
    for make in (single_call, no_tool, ask_missing):
        for row in dpo.export_rows(make())[0]:
            for key in ("prompt", "chosen", "rejected"):
                assert all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in row[key])


def test_export_run_counts_pairs_and_dialogs_without_them() -> None:
    run = export_rows([single_call(), unvoted(), no_tool(), ask_missing()], "dpo")
    rows = list(run)
    assert run.exported == len(rows) == 6
    assert run.not_applicable == {"no_voted_steps": 1}
    assert run.row_labels == {"wrong_tool": 1, "ungrounded_arguments": 2, "other": 1, "called_when_should_not": 1,
                              "did_not_call": 1}
    assert run.kinds == {"multiple": 1, "non_tool": 1, "ask_missing": 1}


def test_a_dialog_whose_pairs_are_all_broken_is_counted_apart() -> None:
    broken = unvoted().model_copy(update={"meta": {META_KEY: [{"turn": 0, "rejected": {"role": "assistant",
                                                                                      "content": "x"},
                                                              "disagreement": "other"}]}})
    with pytest.raises(FormatNotApplicable) as error:
        dpo.export_rows(broken)
    assert error.value.reason == "invalid_preference_pairs"


# ---------------------------------------------------------------- CLI and stats


def _db(path: Path, dialogs: list[tuple[Dialog, str]]) -> Path:
    store = open_store(path)
    run = ensure_run(store, "dialogs generate", {"seed": 3, "k": 3, "model": "0123456789abcdef"})
    with store.transaction():
        for seq, (d, status) in enumerate(dialogs):
            insert_dialog(store, d, run.id, seq, status)
    store.close()
    return path


def test_cli_exports_pairs_with_a_card_and_stats_count_them(tmp_path: Path) -> None:
    db = _db(tmp_path / "p.db", [(single_call(), "kept"), (no_tool(), "kept"), (ask_missing(), "rejected"),
                                 (unvoted(), "kept")])
    out = tmp_path / "pairs" / "dpo.jsonl"
    out.parent.mkdir()
    runner = CliRunner()
    res = runner.invoke(cli, ["export", "--db", str(db), "--format", "dpo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote 4 rows (dpo)" in res.stdout and "1 dialogs skipped: no_voted_steps" in res.stdout
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["disagreement"] for r in rows] == ["wrong_tool", "ungrounded_arguments", "other",
                                                 "called_when_should_not"]
    card = (out.parent / "README.md").read_text(encoding="utf-8")
    assert "DPOTrainer" in card and "| wrong_tool | 1 |" in card
    tags = [line.strip() for line in card.split("\ntags:\n")[1].split("\nsize_categories:")[0].splitlines()]
    assert tags.count("- dpo") == 1 and "- preference" in tags

    stats = json.loads(runner.invoke(cli, ["stats", "--db", str(db), "--json"]).stdout)["preference_pairs"]
    assert stats["kept"]["total"] == 4 and stats["all"]["total"] == 6
    assert stats["all"]["by_disagreement"]["ungrounded_arguments"] == 2
    assert stats["kept"]["by_disagreement"]["ungrounded_arguments"] == 1
    assert set(stats["all"]["by_disagreement"]) == set(DISAGREEMENTS)
    table = runner.invoke(cli, ["stats", "--db", str(db)]).stdout
    assert "preference pairs (export --format dpo)" in table and "did_not_call" in table


def test_stats_count_only_pair_lists(store) -> None:
    run = ensure_run(store, "dialogs generate", {"seed": 0})
    odd = unvoted().model_copy(update={"meta": {META_KEY: {"turn": 1}}})  # an object, not a list: not counted
    with store.transaction():
        insert_dialog(store, odd, run.id, 0, "kept")
    assert preference_pair_counts(store)["all"]["total"] == 0


def test_cli_dpo_without_voted_steps_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    db = _db(tmp_path / "n.db", [(unvoted(), "kept")])
    folder = tmp_path / "out"
    folder.mkdir()
    res = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "dpo", "--out", str(folder / "dpo.jsonl")])
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "no preference pairs in the 1 dialogs selected" in res.stderr
    assert "Traceback" not in res.output
    assert list(folder.iterdir()) == []  # no data file, no card, no temporary file


def test_datasets_loads_the_dpo_export_with_trl_keys(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="datasets is not installed (optional: pip install datasets)")
    db = _db(tmp_path / "d.db", [(single_call(), "kept"), (no_tool(), "kept"), (ask_missing(), "kept")])
    out = tmp_path / "dpo.jsonl"
    assert CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "dpo", "--out", str(out)]).exit_code == 0
    loaded = datasets.load_dataset("json", data_files=str(out), split="train")
    assert len(loaded) == 6
    assert {"prompt", "chosen", "rejected"} <= set(loaded.column_names)
    for row in loaded:
        # TRL's conversational preference type: lists of {"role", "content"} messages, one assistant turn each side
        assert row["prompt"][0]["role"] == "system" and row["prompt"][-1]["role"] in ("user", "tool")
        assert [m["role"] for m in row["chosen"]] == [m["role"] for m in row["rejected"]] == ["assistant"]
        assert row["chosen"] != row["rejected"]
    original = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["chosen"] for r in loaded] == [r["chosen"] for r in original]  # nothing padded or reshaped
    # Loading the folder reads the card's `configs`, as the Hub does after `huggingface-cli upload`.
    by_card = datasets.load_dataset(str(tmp_path))
    assert list(by_card) == ["train"] and by_card["train"]["id"] == loaded["id"]
