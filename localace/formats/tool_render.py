"""Tool lists rendered as JSON, YAML, XML or Markdown for system prompts ("format generalization")."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from localace.apis.spec import VENDOR_PREFIX, ApiSpec
from localace.apis.tool_formats import to_toolace
from localace.errors import LocalaceError

# The double-quoted Python literal of call_syntax uses exactly YAML's escapes (\" \\ \n \r \t \uXXXX
# \UXXXXXXXX) and escapes every non-printable character, so it is a valid YAML double-quoted scalar.
from localace.calls import _render_string as _double_quoted

STYLES = ("json", "yaml", "xml", "markdown")
STYLE_LABELS = {"json": "JSON", "yaml": "YAML", "xml": "XML", "markdown": "Markdown"}
DEFAULT_MIX: dict[str, float] = {"json": 0.5, "yaml": 0.2, "xml": 0.15, "markdown": 0.15}

# Plain YAML scalars: start with a letter, no ": ", " #", flow or quote indicators at the start.
_YAML_PLAIN_RE = re.compile(r"[^\W\d][\w ,.()/'-]*")
# YAML 1.1 resolves these words to booleans or null; they must be quoted to stay strings.
_YAML_RESERVED = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null", "none"})
# XML 1.0 forbids these code points even as character references.
_XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Schema keys the XML and Markdown emitters turn into structure rather than plain constraints.
_STRUCTURAL = frozenset({"type", "description", "properties", "required", "items", "additionalProperties"})


class ToolRenderError(LocalaceError, ValueError):
    """Unknown rendering style or an invalid style mix."""


def render_tools(tools: Sequence[ApiSpec], style: str) -> str:
    """The tool list (ToolACE dicts, gorilla type names) as text in the given style."""
    emitter = _EMITTERS.get(style)
    if emitter is None:
        raise ToolRenderError(f"unknown tool style {style!r}; expected one of {', '.join(STYLES)}")
    return emitter([_toolace_entry(tool) for tool in tools])


@lru_cache(maxsize=1 << 15)
def _toolace_entry(tool: ApiSpec) -> dict[str, Any]:
    # A pool API appears in many dialogs of an export; specs are immutable and the emitters only read the entry.
    return to_toolace(tool)


def pick_style(rng: random.Random, mix: Mapping[str, float] | None = None) -> str:
    """A style drawn from the weighted mix (DEFAULT_MIX when None); same rng state, same style."""
    mix = DEFAULT_MIX if mix is None else mix
    unknown = sorted(set(mix) - set(STYLES))
    if unknown:
        raise ToolRenderError(f"unknown tool style(s) {', '.join(unknown)} in mix")
    weights = list(mix.values())
    if not weights or any(not isinstance(w, (int, float)) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ToolRenderError("tool style mix needs non-negative weights with a positive sum")
    return rng.choices(list(mix), weights=weights)[0]


# ---------------------------------------------------------------- JSON


def _json(tools: list[dict[str, Any]]) -> str:
    return json.dumps(tools, ensure_ascii=False)


# ---------------------------------------------------------------- YAML


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        # YAML 1.1 readers need a dot in a float ("1e+20" would read as a string).
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
    text = str(value)
    plain = _YAML_PLAIN_RE.fullmatch(text) and text == text.rstrip() and text.lower() not in _YAML_RESERVED
    return text if plain else _double_quoted(text)


def _yaml_inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _yaml_scalar(value)


def _yaml_lines(value: Any, depth: int) -> list[str]:
    pad = "  " * depth
    if not isinstance(value, (dict, list)) or not value:
        return [pad + _yaml_inline(value)]
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = _yaml_scalar(str(key))
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key_text}:")
                lines.extend(_yaml_lines(item, depth + 1))
            else:
                lines.append(f"{pad}{key_text}: {_yaml_inline(item)}")
        return lines
    for item in value:
        if isinstance(item, (dict, list)) and item:
            # The "- " takes the place of one indentation step, so the rest of the block lines up.
            nested = _yaml_lines(item, depth + 1)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        else:
            lines.append(f"{pad}- {_yaml_inline(item)}")
    return lines


def yaml_text(value: Any) -> str:
    """Block-style YAML for JSON-like data (readable by YAML 1.1 and 1.2 parsers); no PyYAML needed."""
    return "\n".join(_yaml_lines(value, 0))


def _yaml(tools: list[dict[str, Any]]) -> str:
    return yaml_text(tools)


# ---------------------------------------------------------------- XML


def _xml_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return escape(_XML_INVALID_RE.sub("\ufffd", text))


def _xml_attr(value: str) -> str:
    return quoteattr(_XML_INVALID_RE.sub("\ufffd", value))


def _xml_schema(tag: str, node: Any, depth: int, attrs: str = "") -> list[str]:
    pad = "  " * depth
    if not isinstance(node, dict):
        return [f"{pad}<{tag}{attrs}>{_xml_text(node)}</{tag}>"]
    if "type" in node:
        attrs += f" type={_xml_attr(str(node['type']))}"
    body: list[str] = []
    inner = "  " * (depth + 1)
    if "description" in node:
        body.append(f"{inner}<description>{_xml_text(node['description'])}</description>")
    for key, value in node.items():
        if key in _STRUCTURAL or key.startswith(VENDOR_PREFIX):
            continue
        if isinstance(value, list):
            values = "".join(f"<value>{_xml_text(item)}</value>" for item in value)
            body.append(f"{inner}<{key}>{values}</{key}>")
        else:
            body.append(f"{inner}<{key}>{_xml_text(value)}</{key}>")
    required = node.get("required") if isinstance(node.get("required"), list) else []
    for name, child in (node.get("properties") or {}).items():
        flags = f" name={_xml_attr(name)} required={_xml_attr(str(name in required).lower())}"
        body.extend(_xml_schema("property", child, depth + 1, flags))
    for key in ("items", "additionalProperties"):
        if key in node:
            body.extend(_xml_schema(key, node[key], depth + 1))
    if not body:
        return [f"{pad}<{tag}{attrs}/>"]
    return [f"{pad}<{tag}{attrs}>", *body, f"{pad}</{tag}>"]


def _xml(tools: list[dict[str, Any]]) -> str:
    lines = ["<tools>"]
    for tool in tools:
        lines.append(f"  <tool name={_xml_attr(tool['name'])}>")
        lines.append(f"    <description>{_xml_text(tool['description'])}</description>")
        lines.extend(_xml_schema("parameters", tool["parameters"], 2))
        if "returns" in tool:
            lines.extend(_xml_schema("returns", tool["returns"], 2))
        lines.append("  </tool>")
    lines.append("</tools>")
    return "\n".join(lines)


# ---------------------------------------------------------------- Markdown


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _md_type(node: dict[str, Any]) -> str:
    type_name = str(node.get("type", "any"))
    items = node.get("items")
    if isinstance(items, dict):
        return f"{type_name} of {_md_type(items)}"
    return type_name


def _md_notes(node: dict[str, Any]) -> str:
    notes = [
        f"{key}: {json.dumps(value, ensure_ascii=False)}"
        for key, value in node.items()
        if key not in _STRUCTURAL and not key.startswith(VENDOR_PREFIX)
    ]
    return f" ({'; '.join(notes)})" if notes else ""


def _md_rows(node: dict[str, Any], prefix: str) -> list[str]:
    rows: list[str] = []
    required = node.get("required") if isinstance(node.get("required"), list) else []
    for name, child in (node.get("properties") or {}).items():
        if not isinstance(child, dict):
            continue
        path = f"{prefix}{name}"
        description = str(child.get("description", "")) + _md_notes(child)
        cells = (path, _md_type(child), "yes" if name in required else "no", description)
        rows.append("| " + " | ".join(_md_cell(cell) for cell in cells) + " |")
        rows.extend(_md_rows(child, f"{path}."))
        items = child.get("items")
        while isinstance(items, dict):
            # Fields of objects inside arrays are listed as "param[].field".
            path += "[]"
            rows.extend(_md_rows(items, f"{path}."))
            items = items.get("items")
    return rows


def _markdown_tool(tool: dict[str, Any]) -> list[str]:
    lines = [f"### {tool['name']}", "", " ".join(str(tool["description"]).split()), ""]
    rows = _md_rows(tool["parameters"], "")
    if rows:
        lines += ["| Parameter | Type | Required | Description |", "| --- | --- | --- | --- |", *rows]
    else:
        lines.append("No parameters.")
    returns = tool.get("returns")
    if isinstance(returns, dict):
        description = _md_cell(str(returns.get("description", "")))
        lines += ["", f"Returns: {_md_type(returns)}" + (f", {description}" if description else "")]
    return lines


def _markdown(tools: list[dict[str, Any]]) -> str:
    blocks = ["\n".join(_markdown_tool(tool)) for tool in tools]
    return "\n\n".join(blocks) if blocks else "(no functions)"


_EMITTERS: dict[str, Callable[[list[dict[str, Any]]], str]] = {
    "json": _json, "yaml": _yaml, "xml": _xml, "markdown": _markdown,
}  # fmt: skip
