"""Render the report data (report_data.collect_report) as one self-contained HTML page with inline SVG."""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from localace.quality import QUALITY_ROWS
from localace.formats.call_syntax import Call, CallRenderError, render_calls

TEMPLATE = Path(__file__).resolve().parent / "templates" / "report.html.j2"
FONT_PX = 12
CHAR_PX = 6.6  # average glyph width of the system sans-serif at FONT_PX, to truncate labels that would overlap
STATUS_COLORS = {"kept": "#2f9e44", "rejected": "#e03131", "generated": "#868e96"}


def _fit(label: str, width_px: float) -> str:
    """Cut a label to what fits in width_px, with an ellipsis; the full text stays in a <title>."""
    room = max(3, int(width_px / CHAR_PX))
    return label if len(label) <= room else label[: room - 1].rstrip() + "…"


def _nice_ticks(top: int, most: int = 5) -> list[int]:
    """0, step, 2·step… covering `top` with at most `most` steps, step in 1/2/5 × 10^k."""
    top = max(top, 1)
    raw = top / most
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, int(math.ceil(top / step) * step) + 1, int(step)))


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" class="chart" font-size="{FONT_PX}">' + "".join(body) + "</svg>")


def hbar_chart(rows: list[dict[str, Any]], *, title: str, color: str = "#4263eb", width: int = 520,
               label_width: int = 190, total: int | None = None) -> Markup:
    """Horizontal bars, one per {label, count} row, with the count and share (of `total`) at each bar's end."""
    bar_h, gap, top = 18, 6, 4
    total = total or sum(r["count"] for r in rows) or 1
    peak = max((r["count"] for r in rows), default=0) or 1
    span = width - label_width - 78
    height = top * 2 + len(rows) * (bar_h + gap)
    body = []
    for i, row in enumerate(rows):
        y = top + i * (bar_h + gap)
        length = span * row["count"] / peak
        label = str(row["label"])
        body.append(
            f'<g><title>{escape(label)}: {row["count"]}</title>'
            f'<text x="{label_width - 8}" y="{y + bar_h / 2}" text-anchor="end" dominant-baseline="central" '
            f'fill="#343a40">{escape(_fit(label, label_width - 12))}</text>'
            f'<rect x="{label_width}" y="{y}" width="{max(length, 1.5):.1f}" height="{bar_h}" rx="3" fill="{color}" '
            f'opacity="{1 if row["count"] else 0.25}"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + bar_h / 2}" dominant-baseline="central" fill="#495057">'
            f'{row["count"]} <tspan fill="#adb5bd">({100 * row["count"] / total:.0f}%)</tspan></text></g>')
    return _svg(width, height, body, title)


def histogram(rows: list[dict[str, Any]], *, title: str, x_title: str, color: str = "#1098ad", width: int = 520,
              height: int = 230) -> Markup:
    """Vertical bars; rows with lo/hi get edge ticks (continuous bins), others a label under each bar."""
    left, right, top, bottom = 44, 12, 14, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = _nice_ticks(max((r["count"] for r in rows), default=0))
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(rows), 1)
    body = []
    for t in ticks:
        y = top + plot_h - t * scale
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e9ecef"/>'
                    f'<text x="{left - 6}" y="{y:.1f}" text-anchor="end" dominant-baseline="central" '
                    f'fill="#868e96">{t}</text>')
    continuous = bool(rows) and "lo" in rows[0]
    every = max(1, math.ceil(len(rows) * 34 / plot_w))  # skip labels that would collide
    for i, row in enumerate(rows):
        x, h = left + i * slot, row["count"] * scale
        body.append(f'<g><title>{escape(str(row["label"]))}: {row["count"]}</title>'
                    f'<rect x="{x + 1.5:.1f}" y="{top + plot_h - h:.1f}" width="{max(slot - 3, 1):.1f}" '
                    f'height="{h:.1f}" rx="2" fill="{color}"/></g>')
        if row["count"] and slot >= 16:
            body.append(f'<text x="{x + slot / 2:.1f}" y="{top + plot_h - h - 4:.1f}" text-anchor="middle" '
                        f'fill="#495057" font-size="11">{row["count"]}</text>')
        if not continuous and i % every == 0:
            body.append(f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                        f'fill="#495057">{escape(_fit(str(row["label"]), slot * every))}</text>')
    if continuous:
        edges = [r["lo"] for r in rows] + [rows[-1]["hi"]]
        for i, edge in enumerate(edges):
            if i % every == 0 or i == len(edges) - 1:
                x = left + i * slot
                body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" '
                            f'stroke="#868e96"/><text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                            f'fill="#495057" font-size="11">{edge:.2f}</text>')
    body.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#adb5bd"/>'
                f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" fill="#495057">'
                f'{escape(x_title)}</text>')
    return _svg(width, height, body, title)


def status_bar(status: dict[str, int], *, width: int = 1040) -> Markup:
    """One stacked bar of kept / rejected / generated dialogs."""
    total = sum(status.values())
    body, x = [], 0.0
    for name, n in status.items():
        if not n:
            continue
        w = width * n / total
        body.append(f'<g><title>{escape(name)}: {n}</title><rect x="{x:.1f}" y="0" width="{w:.1f}" height="22" '
                    f'fill="{STATUS_COLORS.get(name, "#adb5bd")}"/></g>')
        x += w
    return _svg(width, 22, body or [f'<rect width="{width}" height="22" fill="#f1f3f5"/>'], "dialog status")


def _calls_text(calls: list[dict[str, Any]]) -> str:
    try:
        return render_calls([Call(c["name"], c.get("arguments", {})) for c in calls])
    except CallRenderError:
        return json.dumps(calls, ensure_ascii=False, indent=2)


def chat_turns(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turns as display items: role, plain text, rendered calls, and JSON tool results."""
    items = []
    for t in turns:
        items.append({
            "role": t["role"], "text": t.get("content"), "thought": t.get("thought"), "action": t.get("action"),
            "calls": _calls_text(t["tool_calls"]) if t.get("tool_calls") else None,
            "results": [(r["name"], json.dumps(r.get("results"), ensure_ascii=False, indent=2))
                        for r in t.get("tool_results") or []],
        })
    return items


def charts(data: dict[str, Any]) -> dict[str, Markup | None]:
    """Every chart of the page as inline SVG; None where there is nothing to draw."""
    apis, dialogs = data["apis"], data["dialogs"]
    second_total = sum(r["count"] for r in apis["domains_second"]) + apis["domains_second_hidden"]["apis"]

    def bars(rows: list[dict], title: str, color: str, **kw: Any) -> Markup | None:
        return hbar_chart(rows, title=title, color=color, **kw) if rows else None

    def hist(rows: list[dict], title: str, x_title: str, color: str, **kw: Any) -> Markup | None:
        return histogram(rows, title=title, x_title=x_title, color=color, **kw) if rows else None

    return {
        "status": status_bar(dialogs["status"]),
        "domains_top": bars(apis["domains_top"], "top-level domains", "#4263eb"),
        "domains_second": bars(apis["domains_second"], "second-level domains", "#5c7cfa", width=1040,
                               label_width=560, total=second_total),
        "param_types": bars(apis["param_types"], "parameter types", "#7048e8"),
        "kinds": bars(dialogs["kinds"] if dialogs["n"] else [], "dialog kinds", "#f08c00", label_width=120),
        "turns": hist(dialogs["turns"], "turns per dialog", "turns in the dialog", "#1098ad"),
        "calls_per_turn": hist(dialogs["calls_per_turn"], "calls per call turn", "tool calls in one assistant turn",
                               "#0ca678"),
        "complexity": hist(dialogs["complexity"], "complexity", "complexity (mean token loss of the assistant turns)",
                           "#d6336c", width=1040),
    }


def render_report(data: dict[str, Any], *, title: str = "localace dataset report") -> str:
    """The whole report as one HTML string: no scripts, no external resources."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    examples = [{**ex, "items": chat_turns(ex["turns"])} for ex in data["examples"]]
    return template.render(title=title, d=data, charts=charts(data), examples=examples, colors=STATUS_COLORS,
                           quality_rows=QUALITY_ROWS)
