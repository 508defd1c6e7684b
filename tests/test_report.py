"""`localace report`: the numbers, the self-contained HTML page, escaping, CLI errors, and a real render."""

import json
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from localace.apis.synth import coverage
from localace.backends.fake import FakeBackend
from localace.cli import cli
from localace.cli.report import report_cmd
from localace.dialogs.model import Dialog
from localace.pipeline import RunConfig, config_record, ensure_pipeline_run, run_pipeline
from localace.report import run_report
from localace.report_data import collect_report, float_histogram
from localace.report_html import _nice_ticks, render_report
from localace.store import open_store
from localace.store.cache import CachedBackend
from localace.store.db import utcnow

SECTIONS = ("status", "domains-top", "domains-second", "param-types", "kinds", "turns", "calls-per-turn",
            "complexity", "funnels", "examples", "quality")
EVIL = '<script>alert("x")</script> & <img src=x>'
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def _add_dialog(store, template: Dialog, run_id: str, seq: int, text: str, status: str, check: str | None,
                reason: str | None) -> str:
    turns = [template.turns[0].model_copy(update={"content": text}), *template.turns[1:]]
    dialog = template.model_copy(update={"turns": turns})
    with store.transaction():
        store.db["dialogs"].insert({
            "id": dialog.id, "run_id": run_id, "kind": dialog.kind, "domains": json.dumps(dialog.domains),
            "complexity": dialog.complexity, "status": status, "data_json": dialog.model_dump_json(),
            "created_at": utcnow(), "seq": seq, "api_ids": json.dumps(dialog.api_ids), "n_turns": len(turns),
            "rejected_at": check})
        if check:
            store.db["verdicts"].insert({"id": f"v{seq}", "dialog_id": dialog.id, "stage": "rules",
                                         "check_name": check, "passed": 0, "reason": reason, "created_at": utcnow()})
    return dialog.id


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """A small pipeline run on the fake backend, plus two rejected dialogs and one not yet verified."""
    path = tmp_path_factory.mktemp("report") / "r.db"
    store = open_store(path)
    gen = CachedBackend(FakeBackend(), store)
    cfg = RunConfig(apis=5, dialogs=6, generations=1, k=1, judges="off")
    run_id, _ = ensure_pipeline_run(store, config_record(cfg, {"generator": gen.fingerprint()}), force_new=False)
    report = [e.event for e in run_pipeline(store, gen, cfg, run_id) if e.stage == "done"][0]
    dialog_run = report["dialog_run"]
    first = Dialog.model_validate_json(store.conn.execute(
        "SELECT data_json FROM dialogs WHERE run_id=? ORDER BY seq", (dialog_run,)).fetchone()[0])
    _add_dialog(store, first, dialog_run, 100, EVIL, "rejected", "text_length", "turn 0 is <b>too</b> long")
    _add_dialog(store, first, dialog_run, 101, "second bad one", "rejected", "invalid_characters", "odd chars")
    _add_dialog(store, first, dialog_run, 102, "still waiting", "generated", None, None)
    store.close()
    return path


@pytest.fixture(scope="module")
def data(db):
    store = open_store(db)
    yield collect_report(store)
    store.close()


@pytest.fixture(scope="module")
def page(data) -> str:
    return render_report(data)


def test_numbers_match_the_database(db, data):
    store = open_store(db)
    run = data["scope"]["dialog_run"]
    status = dict(store.conn.execute("SELECT status, COUNT(*) FROM dialogs WHERE run_id=? GROUP BY 1", (run,)))
    assert data["dialogs"]["status"] == {"kept": status["kept"], "rejected": 2, "generated": 1}
    dialogs = [Dialog.model_validate_json(r[0]) for r in
               store.conn.execute("SELECT data_json FROM dialogs WHERE run_id=?", (run,))]
    assert data["dialogs"]["n"] == len(dialogs) == 6 + 3
    assert {r["label"]: r["count"] for r in data["dialogs"]["kinds"] if r["count"]} == Counter(d.kind for d in dialogs)
    assert {int(r["label"]): r["count"] for r in data["dialogs"]["turns"] if r["count"]} == \
        Counter(len(d.turns) for d in dialogs)
    calls = Counter(len(t.tool_calls) for d in dialogs for t in d.turns if t.tool_calls)
    assert {int(r["label"]): r["count"] for r in data["dialogs"]["calls_per_turn"] if r["count"]} == calls
    assert sum(r["count"] for r in data["dialogs"]["complexity"]) == data["dialogs"]["complexity_summary"]["n"] == 6 + 3
    cov = coverage(store, data["scope"]["api_run"])
    assert {r["label"]: r["count"] for r in data["apis"]["domains_top"]} == dict(cov["domains"])
    assert {r["label"]: r["count"] for r in data["apis"]["param_types"]} == dict(cov["types"])
    assert sum(r["count"] for r in data["apis"]["domains_second"]) == data["apis"]["n"] == 5
    stored = json.loads(store.conn.execute("SELECT report_json FROM runs WHERE command='run'").fetchone()[0])
    assert data["funnels"] == stored["funnels"] and "stored" in data["funnel_source"]
    json.dumps(data)  # plain data: stats and --json can reuse it
    store.close()


def test_examples_are_kept_and_rejected_with_their_reasons(data):
    ex = data["examples"]
    assert [e["status"] for e in ex] == ["kept", "kept", "kept", "rejected", "rejected"]
    assert len({e["kind"] for e in ex[:3]}) == 3  # variety first
    rejected = {e["check"]: e["reason"] for e in ex[3:]}
    assert rejected == {"text_length": "turn 0 is <b>too</b> long", "invalid_characters": "odd chars"}


def test_a_dialog_run_id_computes_its_funnels(db):
    store = open_store(db)
    run = store.conn.execute("SELECT id FROM runs WHERE command LIKE 'dialogs%'").fetchone()[0]
    data = collect_report(store, run)
    assert data["scope"] == {"pipeline_run": None, "api_run": None, "dialog_run": run}
    assert data["funnels"] == run_report(store, None, run)["funnels"] and "computed" in data["funnel_source"]
    assert data["apis"]["n"] == store.count("apis")
    store.close()


class _Balance(HTMLParser):
    """Tracks open elements; any close tag that does not match the innermost open one is recorded."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack, self.errors, self.ids, self.refs = [], [], set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        self.refs += [v for k, v in attrs if k in ("src", "href", "xlink:href") and v]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.refs += [v for k, v in attrs if k in ("src", "href", "xlink:href") and v]

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def test_page_has_every_section_and_is_balanced(page, data):
    parser = _Balance()
    parser.feed(page)
    parser.close()
    assert parser.errors == [] and parser.stack == []
    assert set(SECTIONS) <= parser.ids
    assert page.count("<svg") == page.count("</svg>") >= 8
    for section in ("domains-top", "param-types", "kinds", "turns", "calls-per-turn", "complexity"):
        body = page[page.index(f'id="{section}"'):]
        assert body.index("<svg") < body.index("</section>"), section
    status = page[page.index('id="status"'):page.index('id="domains-top"')]
    for n in data["dialogs"]["status"].values():
        assert f"<b>{n}</b>" in status
    for f in data["funnels"]:
        assert f"{f['stage']}: {f['requested']} requested → {f['kept']} kept" in page
        for row in f["checks"]:
            assert f"<td>{row['check']}</td><td class=\"num\">{row['rejected']}</td>" in page
    for row in data["apis"]["param_types"]:
        assert f">{row['label']}</text>" in page


def test_quality_section_counts_grounding_voice_and_names(db, data, page):
    """The fake pipeline's kept dialogs are grounded by construction; one rejected dialog narrates."""
    q = data["quality"]
    assert q["scope"] == "kept dialogs" and q["grounded_values"]["of"] > 0
    assert q["grounded_values"]["share"] == 1.0 and q["narrating_user_turns"]["count"] == 0
    assert q["odd_api_names"]["of"] == data["apis"]["n"]
    section = page[page.index('id="quality"'):]
    assert f"{q['grounded_values']['count']} of {q['grounded_values']['of']}" in section[:section.index("</section>")]
    res = CliRunner().invoke(cli, ["stats", "--db", str(db), "--json"])
    assert json.loads(res.stdout)["quality"] == q
    text = CliRunner().invoke(cli, ["stats", "--db", str(db)]).stdout
    assert "argument values grounded in the conversation" in text and "100.0%" in text


def test_page_is_self_contained(page):
    parser = _Balance()
    parser.feed(page)
    assert parser.refs == []
    lowered = page.lower()
    # A URL may be shown as text (a tool result's `url` field); no tag may point at one.
    assert not re.search(r"<[^>]*https?://", lowered)
    assert "<script" not in lowered and "<link" not in lowered and "@import" not in lowered and "url(" not in lowered


def test_dialog_text_and_reasons_are_escaped(page):
    assert EVIL not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img src=x&gt;" in page
    assert "turn 0 is &lt;b&gt;too&lt;/b&gt; long" in page


def test_tool_calls_are_rendered_in_call_syntax(page, data):
    call_turn = next(t for e in data["examples"] for t in e["turns"] if t.get("tool_calls"))
    name = call_turn["tool_calls"][0]["name"]
    assert f'<pre class="calls">[{name}(' in page
    assert '<pre class="result">' in page


def test_cli_writes_the_report_atomically(db, tmp_path, page):
    out = tmp_path / "report.html"
    res = CliRunner().invoke(report_cmd, ["--db", str(db), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8") == page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporary file left behind
    assert "9 dialogs" in res.output


@pytest.mark.parametrize("case", ["missing_db", "missing_folder", "out_is_dir", "unknown_run"])
def test_cli_errors_are_one_line(db, tmp_path, case):
    args = {"missing_db": ["--db", str(tmp_path / "nope.db"), "--out", str(tmp_path / "r.html")],
            "missing_folder": ["--db", str(db), "--out", str(tmp_path / "no" / "r.html")],
            "out_is_dir": ["--db", str(db), "--out", str(tmp_path)],
            "unknown_run": ["--db", str(db), "--out", str(tmp_path / "r.html"), "--run", "feedfacefeedface"]}[case]
    res = CliRunner().invoke(report_cmd, args)
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1 and "Error" in res.output
    assert not (tmp_path / "r.html").exists()


@settings(max_examples=60)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60), st.integers(1, 20))
def test_float_histogram_counts_every_value_once(values, bins):
    rows = float_histogram(values, bins)
    assert sum(r["count"] for r in rows) == len(values)
    assert rows[0]["lo"] == pytest.approx(min(values), abs=1e-5)
    assert all(r["lo"] <= r["hi"] for r in rows)


@pytest.mark.parametrize("top,expected", [(0, [0, 1]), (4, [0, 1, 2, 3, 4]), (27, [0, 10, 20, 30]),
                                          (50, list(range(0, 51, 10)))])
def test_nice_ticks(top, expected):
    assert _nice_ticks(top) == expected


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_headless_chromium_renders_the_page(tmp_path, page):
    html = tmp_path / "report.html"
    html.write_text(page, encoding="utf-8")
    png = tmp_path / "r.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1200,3000",
                    html.as_uri()], capture_output=True, timeout=60)
    assert png.exists() and png.stat().st_size > 10_000
