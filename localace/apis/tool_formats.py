"""Pure converters between ApiSpec and the OpenAI, BFCL and ToolACE tool dictionaries."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from localace.apis.spec import ApiSpec, default_returns, map_schema
from localace.errors import LocalaceError

# Lenient type spellings seen in tool files, mapped to our JSON Schema names (looked up lower-cased).
TYPE_ALIASES = {
    "string": "string", "str": "string",
    "integer": "integer", "int": "integer",
    "number": "number", "float": "number", "double": "number",
    "boolean": "boolean", "bool": "boolean",
    "array": "array", "list": "array", "tuple": "array",
    "object": "object", "dict": "object",
}  # fmt: skip
# Gorilla (BFCL) names on export; types not listed keep their JSON Schema name.
GORILLA_NAMES = {"object": "dict", "number": "float"}
BFCL_TYPE_KEY = "x-bfcl-type"
UNSUPPORTED_TYPES = frozenset({"any"})
_OPENAI_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


class ToolFormatError(LocalaceError, ValueError):
    """A tool dictionary cannot be read in the named format; `reasons` lists why."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))


def openai_safe_name(name: str) -> str:
    """Name rewritten to OpenAI's ^[a-zA-Z0-9_-]{1,64}$ (spaces, dots... become '_')."""
    if _OPENAI_NAME_RE.match(name):
        return name
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64] or "_"


def _rename_type(node: dict[str, Any], path: str, keep_key: str | None) -> dict[str, Any]:
    """Map an alias type to its JSON Schema name, remembering the original under keep_key."""
    original = node.get("type")
    if not isinstance(original, str):
        return node
    if original.lower() in UNSUPPORTED_TYPES:
        raise ToolFormatError([f"{path}: type {original!r} is not supported"])
    canonical = TYPE_ALIASES.get(original.lower())
    if canonical is None:
        return node  # left for check_definition to report with its path
    node["type"] = canonical
    if keep_key and GORILLA_NAMES.get(canonical, canonical) != original:
        node[keep_key] = original
    return node


def _import_schema(schema: Any, path: str, keep_key: str | None = None) -> Any:
    return map_schema(copy.deepcopy(schema), lambda node, at: _rename_type(node, at, keep_key), path)


def _export_gorilla(node: dict[str, Any], _path: str) -> dict[str, Any]:
    original = node.pop(BFCL_TYPE_KEY, None)
    type_name = node.get("type")
    if not isinstance(type_name, str):
        return node
    # A remembered name only applies while the type is still the one it was imported as.
    still_valid = isinstance(original, str) and TYPE_ALIASES.get(original.lower()) == type_name
    node["type"] = original if still_valid else GORILLA_NAMES.get(type_name, type_name)
    return node


def _to_gorilla(schema: dict[str, Any]) -> dict[str, Any]:
    return map_schema(copy.deepcopy(schema), _export_gorilla)


def _entry(fields: Any, fmt: str) -> Mapping[str, Any]:
    if not isinstance(fields, Mapping):
        raise ToolFormatError([f"{fmt} tool entry must be a JSON object, got {type(fields).__name__}"])
    return fields


def _build(fields: Mapping[str, Any], parameters: Any, returns: Any, source: str) -> ApiSpec:
    name = fields.get("name")
    return ApiSpec(
        name=name,
        description=fields.get("description"),
        parameters=parameters,
        returns=returns if returns is not None else default_returns(str(name)),
        source=source,
    )


def _with_returns(entry: dict[str, Any], spec: ApiSpec, convert: Callable[[dict], dict]) -> dict[str, Any]:
    # Formats have no return field, so a non-default one rides along under "returns" to stay lossless.
    if spec.returns != default_returns(spec.name):
        entry["returns"] = convert(spec.returns)
    return entry


def to_openai(spec: ApiSpec, *, safe_name: bool = False) -> dict[str, Any]:
    """{"type": "function", "function": {...}}; safe_name applies OpenAI's name pattern (lossy)."""
    function = {
        "name": openai_safe_name(spec.name) if safe_name else spec.name,
        "description": spec.description,
        "parameters": copy.deepcopy(spec.parameters),
    }
    return {"type": "function", "function": _with_returns(function, spec, copy.deepcopy)}


def from_openai(tool: Any, *, source: str = "import:openai") -> ApiSpec:
    """Read an OpenAI tool ({"type":"function","function":{...}}) or a bare function object."""
    tool = _entry(tool, "openai")
    function = _entry(tool["function"], "openai") if isinstance(tool.get("function"), Mapping) else tool
    # OpenAI accepts a missing or empty "parameters" for functions without arguments.
    parameters = function.get("parameters") or _EMPTY_PARAMETERS
    returns = function.get("returns")
    return _build(
        function,
        _import_schema(parameters, "parameters"),
        None if returns is None else _import_schema(returns, "returns"),
        source,
    )


def to_bfcl(spec: ApiSpec) -> dict[str, Any]:
    """BFCL function dict with gorilla type names (dict, float, ...)."""
    entry = {"name": spec.name, "description": spec.description, "parameters": _to_gorilla(spec.parameters)}
    return _with_returns(entry, spec, _to_gorilla)


def from_bfcl(function: Any, *, source: str = "import:bfcl") -> ApiSpec:
    """Read a BFCL function dict; non-canonical type names are kept under x-bfcl-type."""
    function = _entry(function, "bfcl")
    returns = function.get("returns")
    return _build(
        function,
        _import_schema(function.get("parameters"), "parameters", BFCL_TYPE_KEY),
        None if returns is None else _import_schema(returns, "returns", BFCL_TYPE_KEY),
        source,
    )


def to_toolace(spec: ApiSpec) -> dict[str, Any]:
    """ToolACE tool entry: BFCL-style "dict" typing, as listed in ToolACE system prompts."""
    return to_bfcl(spec)


def _coerce_default(node: dict[str, Any]) -> None:
    """ToolACE writes "" or null for 'no default' and numbers as strings."""
    default, type_name = node["default"], node.get("type")
    if default is None or (default == "" and type_name != "string"):
        del node["default"]
    elif isinstance(default, str) and type_name in ("integer", "number"):
        try:
            number = float(default.strip())
        except ValueError:
            return
        node["default"] = int(number) if type_name == "integer" and number.is_integer() else number
    elif isinstance(default, str) and type_name == "boolean" and default.strip().lower() in ("true", "false"):
        node["default"] = default.strip().lower() == "true"


def _lenient_node(node: dict[str, Any], _path: str) -> dict[str, Any]:
    if "default" in node:
        _coerce_default(node)
    if node.get("required") is None:
        node.pop("required", None)
    properties = node.get("properties")
    if isinstance(properties, dict):
        # JSON Schema draft 3 marked required-ness on the property itself.
        flagged = [key for key, child in properties.items() if isinstance(child, dict) and child.get("required") is True]
        for child in properties.values():
            if isinstance(child, dict) and isinstance(child.get("required"), bool):
                del child["required"]
        if flagged:
            node["required"] = list(dict.fromkeys([*node.get("required", []), *flagged]))
    return node


def _toolace_parameters(entry: Mapping[str, Any]) -> Any:
    parameters = entry.get("parameters")
    if parameters is None:
        parameters = dict(_EMPTY_PARAMETERS)
    elif isinstance(parameters, dict) and "type" not in parameters:
        # either an untyped object schema or a bare property map
        parameters = {"type": "object", **parameters} if "properties" in parameters else {
            "type": "object", "properties": parameters}
    parameters = _import_schema(parameters, "parameters")
    if not isinstance(parameters, dict):
        return parameters
    parameters = map_schema(parameters, _lenient_node)
    extra_required = entry.get("required")
    if isinstance(extra_required, list) and extra_required:
        current = parameters.get("required") if isinstance(parameters.get("required"), list) else []
        parameters["required"] = list(dict.fromkeys([*current, *extra_required]))
    return parameters


def from_toolace(entry: Any, *, source: str = "import:toolace") -> ApiSpec:
    """Read a ToolACE tool entry leniently (aliases, top-level "required", "" defaults)."""
    entry = _entry(entry, "toolace")
    returns = entry.get("returns")
    return _build(
        entry,
        _toolace_parameters(entry),
        None if returns is None else _import_schema(returns, "returns"),
        source,
    )
