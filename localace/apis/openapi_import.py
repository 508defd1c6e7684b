"""Read an OpenAPI 3.0/3.1 or Swagger 2.0 document and turn every operation into an ApiSpec.

The document is parsed with PyYAML (JSON is YAML) and its `$ref`s are resolved by `jsonref`, lazily, so a broken
reference costs only the operations that use it. Parameters come from the path, the query and a JSON (or form)
request body, flattened into one object where the body is an object; the 2xx JSON response is `returns`.

What our schema subset cannot hold is skipped with its reason: an optional parameter or property is left out (and
said so in the operation's meta), an operation whose required input cannot be represented is skipped. Header and
cookie parameters and security schemes are credentials or transport: they are left out, and the import says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from localace.apis.importers import ImportFormatError, ImportResult, Skipped, read_text
from localace.apis.mcp_import import server_label
from localace.apis.spec import (MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH, STRING_FORMATS, ApiSpec, InvalidApiSpecError,
                                check_schema, default_returns, is_json_type)
from localace.hashing import content_hash
from localace.string_formats import FORMAT_CHECKER

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# How deep a schema may nest before the rest is cut: deeper than any call a model is asked to write.
MAX_DEPTH = 6
# How often a recursive type unfolds inside itself before it is cut (a tree: a node, its children, then cut).
RECURSION_LEVELS = 2
_JSON_MEDIA = re.compile(r"^application/(.+\+)?json(;.*)?$|^\*/\*$", re.IGNORECASE)
_FORM_MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")
_NAME_UNSAFE = re.compile(r"[^\w.-]+")


class OpenApiError(ImportFormatError):
    """The file is not an OpenAPI document we can read (one line, exit 2)."""


class Unrepresentable(Exception):
    """A schema our subset cannot hold; the message is the reason."""


class FileUpload(Unrepresentable):
    """Input that is a file's bytes: a tool call cannot carry it, so its operation is skipped even when optional."""


@dataclass
class _Op:
    """What one operation collects while it is converted: its parameters' locations, what was left out or cut."""

    locations: dict[str, str] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- loading


def load_document(path: Path) -> dict[str, Any]:
    """The parsed document with its local `$ref`s resolved lazily; one-line OpenApiError when it is no OpenAPI."""
    import jsonref
    import yaml

    text = read_text(path)
    try:
        # BaseLoader would keep every scalar a string; SafeLoader reads numbers and booleans, as JSON would.
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise OpenApiError(f"{path}: not JSON or YAML{where}: {problem}") from None
    if not isinstance(doc, dict):
        raise OpenApiError(f"{path}: not an OpenAPI document (the top level is not an object)")
    version = str(doc.get("openapi") or doc.get("swagger") or "")
    if not version:
        raise OpenApiError(f"{path}: not an OpenAPI document (no 'openapi' or 'swagger' version field)")
    if not re.match(r"^(2\.0|3\.[01])(\.\d+)?$", version):
        raise OpenApiError(f"{path}: OpenAPI version {version!r} is not supported (2.0, 3.0 and 3.1 are)")
    if not isinstance(doc.get("paths"), dict):
        raise OpenApiError(f"{path}: no 'paths' object: the document describes no operations")

    def refuse_external(uri: str) -> Any:
        raise ValueError(f"only references within the file are resolved, not {uri!r}")

    # merge_props: OpenAPI 3.1 lets a description sit beside a $ref; it is kept on top of the target.
    return jsonref.replace_refs(doc, base_uri="", loader=refuse_external, merge_props=True, lazy_load=True)


def _ref_of(node: Any) -> str | None:
    import jsonref

    if type(node) is jsonref.JsonRef:
        return node.__reference__.get("$ref")
    return None


def _plain(node: Any, where: str) -> Any:
    """The node behind a reference, turning a broken reference into Unrepresentable."""
    import jsonref

    if type(node) is jsonref.JsonRef:
        try:
            return node.__subject__
        except jsonref.JsonRefError as err:
            raise Unrepresentable(f"{where}: unresolvable $ref {node.__reference__.get('$ref')!r} "
                                  f"({err.cause or err.message})") from None
    return node


# ---------------------------------------------------------------- schemas


def _label(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _humanize(name: str) -> str:
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() or name


def _merge_all_of(node: Mapping[str, Any], where: str, stack: tuple[str, ...]) -> dict[str, Any]:
    """One schema from an allOf: properties and required united, the first value of every other keyword kept."""
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
    parts = node.get("allOf")
    if not isinstance(parts, list):
        raise Unrepresentable(f"{where}: allOf must be a list")
    for index, part in enumerate(parts):
        ref = _ref_of(part)
        if ref and ref in stack:
            raise Unrepresentable(f"{where}: allOf includes its own recursive type {_label(ref)!r}")
        part = _plain(part, f"{where}.allOf[{index}]")
        if not isinstance(part, Mapping):
            raise Unrepresentable(f"{where}.allOf[{index}]: not a schema")
        if "allOf" in part:
            part = _merge_all_of(part, f"{where}.allOf[{index}]", (*stack, ref) if ref else stack)
        for key, value in part.items():
            if key == "properties" and isinstance(value, Mapping):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            elif key == "type" and "type" in merged and merged["type"] != value:
                raise Unrepresentable(f"{where}: allOf parts of different types ({merged['type']!r}, {value!r})")
            else:
                merged.setdefault(key, value)
    if "properties" in merged and "type" not in merged:
        merged["type"] = "object"
    return merged


def _without_null(alternatives: list[Any], where: str) -> list[Any]:
    kept = []
    for index, alternative in enumerate(alternatives):
        plain = _plain(alternative, f"{where}[{index}]")
        if isinstance(plain, Mapping) and (plain.get("type") == "null" or plain.get("enum") == [None]):
            continue
        kept.append(alternative)
    return kept


def _choose_alternative(node: Mapping[str, Any], where: str, op: _Op) -> Any:
    """A oneOf/anyOf as one schema: the one real alternative, else the first object alternative (said so)."""
    key = "oneOf" if "oneOf" in node else "anyOf"
    alternatives = node[key]
    if not isinstance(alternatives, list) or not alternatives:
        raise Unrepresentable(f"{where}: {key} must be a non-empty list")
    kept = _without_null(alternatives, f"{where}.{key}")
    if not kept:
        raise Unrepresentable(f"{where}: {key} allows only null")
    outer = {k: v for k, v in node.items() if k not in ("oneOf", "anyOf", "discriminator")}
    if len(kept) == 1:
        return {**_plain(kept[0], where), **outer}
    for index, alternative in enumerate(kept):
        plain = _plain(alternative, f"{where}.{key}[{index}]")
        if isinstance(plain, Mapping) and (plain.get("type") == "object" or "properties" in plain or "allOf" in plain):
            name = _label(_ref_of(alternative) or f"#{index}")
            op.cut.append(f"{where}: {key} of {len(kept)} alternatives; took the first object one ({name})")
            # The chosen alternative keeps its $ref identity, so recursion through it is still caught.
            return {"allOf": [alternative], **outer} if outer else alternative
    types = {_plain(a, where).get("type") for a in kept if isinstance(_plain(a, where), Mapping)}
    if len(types) == 1 and None not in types:
        op.cut.append(f"{where}: {key} of {len(kept)} {types.pop()} alternatives; kept the type, not their details")
        return {"type": _plain(kept[0], where)["type"], **outer}
    raise Unrepresentable(f"{where}: {key} of {len(kept)} alternatives of different types, none an object")


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _type_of(node: Mapping[str, Any], where: str) -> str:
    type_name = node.get("type")
    if isinstance(type_name, list):  # OpenAPI 3.1: ["string", "null"]
        real = [t for t in type_name if t != "null"]
        if len(real) != 1:
            raise Unrepresentable(f"{where}: a value of several types {real!r}")
        type_name = real[0]
    if type_name is None:
        if "properties" in node or "additionalProperties" in node:
            return "object"
        if "items" in node:
            return "array"
        values = node.get("enum") or ([node["const"]] if "const" in node else [])
        types = {_json_type(v) for v in values if v is not None}
        if len(types) == 1 and None not in types:
            return types.pop()
        raise Unrepresentable(f"{where}: no type (any value)")
    if type_name == "file":
        raise FileUpload(f"{where}: a file upload")
    if type_name not in ("string", "integer", "number", "boolean", "array", "object"):
        raise Unrepresentable(f"{where}: unknown type {type_name!r}")
    return type_name


class _Converter:
    """OpenAPI schemas to our JSON Schema subset, for one operation (request side or response side)."""

    def __init__(self, op: _Op, *, response: bool) -> None:
        self.op = op
        self.response = response

    def convert(self, node: Any, where: str, stack: tuple[str, ...] = (), depth: int = 0) -> dict[str, Any]:
        ref = _ref_of(node)
        node = _plain(node, where)
        if not isinstance(node, Mapping):
            raise Unrepresentable(f"{where}: not a schema")
        if ref and stack.count(ref) >= RECURSION_LEVELS:
            return self._cut(node, where, f"recursive type {_label(ref)!r} cut at depth {depth}")
        if depth > MAX_DEPTH and ("properties" in node or "items" in node or "allOf" in node):
            return self._cut(node, where, f"nested deeper than {MAX_DEPTH} levels; cut")
        stack = (*stack, ref) if ref else stack
        if "allOf" in node:
            node = _merge_all_of(node, where, stack)
        if "oneOf" in node or "anyOf" in node:
            chosen = _choose_alternative(node, where, self.op)
            return self.convert(chosen, where, stack, depth)
        if node.get("not") is not None:
            node = {k: v for k, v in node.items() if k != "not"}
        type_name = _type_of(node, where)
        out: dict[str, Any] = {"type": type_name}
        description = _text(node.get("description")) or _text(node.get("title"))
        if description:
            out["description"] = description
        examples = node.get("examples") if isinstance(node.get("examples"), list) else (
            [node["example"]] if node.get("example") is not None else [])
        if type_name in ("string", "integer", "number", "boolean"):
            examples = [e for e in examples if _json_type(e) in (type_name, "integer" if type_name == "number" else "")]
            out.update(getattr(self, f"_{'number' if type_name == 'integer' else type_name}")(node, where, type_name))
        elif type_name == "array":
            out.update(self._array(node, where, stack, depth))
        else:
            out.update(self._object(node, where, stack, depth))
        if examples and type_name in ("string", "integer", "number", "boolean"):
            out["examples"] = examples[:3]
        self._default(node, out)
        reasons = check_schema(out, where)
        if reasons:
            raise Unrepresentable("; ".join(reasons[:2]))
        return out

    def _cut(self, node: Mapping[str, Any], where: str, reason: str) -> dict[str, Any]:
        self.op.cut.append(f"{where}: {reason}")
        description = _text(node.get("description")) or _text(node.get("title"))
        cut = {"type": "array", "items": {"type": "object"}} if node.get("type") == "array" else {"type": "object"}
        return {**cut, "description": (description + " " if description else "") + "(structure cut)"}

    @staticmethod
    def _enum(node: Mapping[str, Any], type_name: str) -> dict[str, Any]:
        if not isinstance(node.get("enum"), list):
            return {}
        values = [v for v in node["enum"] if v is not None]
        kept = [v for v in values if is_json_type(v, type_name)]
        return {"enum": list(dict.fromkeys(kept))} if kept and len(kept) == len(values) else {}

    def _string(self, node: Mapping[str, Any], where: str, type_name: str) -> dict[str, Any]:
        out = self._enum(node, "string")
        fmt = node.get("format")
        if fmt == "binary" and not self.response:
            raise FileUpload(f"{where}: binary content (a file upload)")
        if fmt in STRING_FORMATS:
            out["format"] = fmt
        elif isinstance(fmt, str) and fmt:
            out["x-format"] = fmt  # kept, outside our checked subset ("password", "byte", "hostname", ...)
        pattern = node.get("pattern")
        if isinstance(pattern, str) and "enum" not in out:
            try:
                re.compile(pattern)
                out["pattern"] = pattern
            except re.error:
                out["x-pattern"] = pattern  # an ECMA-only pattern: kept for the reader, not checked
        for key in ("minLength", "maxLength"):
            if isinstance(node.get(key), int) and not isinstance(node[key], bool) and node[key] >= 0:
                out[key] = node[key]
        return out

    def _number(self, node: Mapping[str, Any], where: str, type_name: str) -> dict[str, Any]:
        out = self._enum(node, type_name)
        if isinstance(node.get("format"), str):
            out["x-format"] = node["format"]  # int32, int64, float, double
        for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            value, flag = node.get(bound), node.get(exclusive)
            if _json_type(value) in ("integer", "number"):
                out[exclusive if flag is True else bound] = value  # OpenAPI 3.0: a boolean beside the bound
            if _json_type(flag) in ("integer", "number"):
                out[exclusive] = flag  # OpenAPI 3.1 / JSON Schema: the bound itself
        return out

    def _boolean(self, node: Mapping[str, Any], where: str, type_name: str) -> dict[str, Any]:
        return {}

    def _array(self, node: Mapping[str, Any], where: str, stack: tuple[str, ...], depth: int) -> dict[str, Any]:
        items = node.get("items")
        if items is None:
            raise Unrepresentable(f"{where}: array without items")
        out = {"items": self.convert(items, f"{where}.items", stack, depth + 1)}
        for key in ("minItems", "maxItems"):
            if isinstance(node.get(key), int) and not isinstance(node[key], bool) and node[key] >= 0:
                out[key] = node[key]
        return out

    def properties(self, node: Mapping[str, Any], where: str, stack: tuple[str, ...], depth: int,
                   required: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(name, schema) of every property this side of the call has; an optional one we cannot hold is left out."""
        properties = _plain(node.get("properties") or {}, where)
        for name, child in properties.items():
            plain = _plain(child, f"{where}.{name}")
            hidden = "writeOnly" if self.response else "readOnly"
            if isinstance(plain, Mapping) and plain.get(hidden) is True:
                continue
            try:
                yield name, self.convert(child, f"{where}.{name}", stack, depth + 1)
            except Unrepresentable as err:
                if name in required and not self.response:
                    raise
                self.op.left_out.append(str(err))

    def _object(self, node: Mapping[str, Any], where: str, stack: tuple[str, ...], depth: int) -> dict[str, Any]:
        required = [r for r in node.get("required") or [] if isinstance(r, str)]
        properties = dict(self.properties(node, where, stack, depth, required))
        out: dict[str, Any] = {}
        if properties:
            out["properties"] = properties
            kept = [name for name in required if name in properties]
            if kept:
                out["required"] = kept
        extra = node.get("additionalProperties")
        if isinstance(extra, bool):
            out["additionalProperties"] = extra
        elif extra is not None:
            try:
                out["additionalProperties"] = self.convert(extra, f"{where}.additionalProperties", stack, depth + 1)
            except Unrepresentable as err:
                self.op.left_out.append(str(err))
        return out

    @staticmethod
    def _default(node: Mapping[str, Any], out: dict[str, Any]) -> None:
        default = node.get("default")
        if default is None:
            return
        try:
            if jsonschema.Draft202012Validator(out, format_checker=FORMAT_CHECKER).is_valid(default):
                out["default"] = default
        except (jsonschema.exceptions.SchemaError, re.error, TypeError, ValueError):
            pass


# ---------------------------------------------------------------- operations


def _operations(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any], Mapping[str, Any]]]:
    """(method, path, operation, path item) in document order."""
    for path, item in doc["paths"].items():
        item = _plain(item, path) if isinstance(item, Mapping) else item
        if not isinstance(item, Mapping):
            continue
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, Mapping):
                yield method, str(path), operation, item


def tool_name(method: str, path: str, operation: Mapping[str, Any]) -> str:
    """The operationId, else method + path; characters a tool name cannot hold become "_", at most 64."""
    raw = operation.get("operationId")
    if isinstance(raw, str) and raw.strip():
        name = _NAME_UNSAFE.sub("_", raw.strip()).strip("_.-") or method
    else:
        raw = f"{method} {path}"
        name = re.sub(r"_+", "_", _NAME_UNSAFE.sub("_", raw.replace("{", "").replace("}", ""))).strip("_.-")
    if len(name) > MAX_NAME_LENGTH:
        name = f"{name[:MAX_NAME_LENGTH - 9]}_{content_hash(raw, length=8)}"
    return name


def _description(method: str, path: str, operation: Mapping[str, Any]) -> str:
    summary, details = _text(operation.get("summary")), _text(operation.get("description"))
    if summary and details and details != summary and not details.startswith(summary):
        text = f"{summary.rstrip('.')}. {details}"
    else:
        text = details if details.startswith(summary) and details else summary
    text = text or f"{method.upper()} {path}"
    if len(text) > MAX_DESCRIPTION_LENGTH:
        text = text[:MAX_DESCRIPTION_LENGTH - 1].rsplit(" ", 1)[0] + "…"
    return text


def _merged_parameters(item: Mapping[str, Any], operation: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
    """Path-level parameters overridden by the operation's own (same name and location)."""
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for source in (item.get("parameters"), operation.get("parameters")):
        for index, parameter in enumerate(source or []):
            parameter = _plain(parameter, f"{where}.parameters[{index}]")
            if isinstance(parameter, Mapping) and isinstance(parameter.get("name"), str):
                merged[(parameter["name"], str(parameter.get("in")))] = parameter
    return list(merged.values())


def _json_media(content: Any, *, forms: bool) -> tuple[str, Any] | None:
    """(media type, schema) of the JSON content, else (when forms) of a form; None when there is neither."""
    if not isinstance(content, Mapping):
        return None
    choices = [m for m in content if _JSON_MEDIA.match(str(m))]
    if forms:
        choices += [m for m in content if str(m).split(";")[0].strip().lower() in _FORM_MEDIA]
    for media in choices:
        entry = _plain(content[media], media)
        if isinstance(entry, Mapping) and entry.get("schema") is not None:
            return str(media), entry["schema"]
    return None


class _Operation:
    """Converts one operation; raises Unrepresentable for what makes the whole operation unusable."""

    def __init__(self, doc: Mapping[str, Any], swagger: bool, method: str, path: str,
                 operation: Mapping[str, Any], item: Mapping[str, Any]) -> None:
        self.doc, self.swagger = doc, swagger
        self.method, self.path, self.operation, self.item = method, path, operation, item
        self.op = _Op()
        self.request = _Converter(self.op, response=False)
        self.properties: dict[str, Any] = {}
        self.required: list[str] = []
        self.body: str | None = None
        self.left_out_headers: list[str] = []

    def _add(self, name: str, schema: dict[str, Any], location: str, required: bool, fallback: str) -> None:
        if name in self.properties:
            self.op.left_out.append(f"{location} {name!r}: the name of a {self.op.locations[name]} parameter too")
            return
        if not schema.get("description"):
            schema = {**schema, "description": fallback}
        self.properties[name] = schema
        self.op.locations[name] = location
        if required:
            self.required.append(name)

    def _parameter_schema(self, parameter: Mapping[str, Any], where: str) -> Any:
        if self.swagger:
            return {k: v for k, v in parameter.items() if k not in ("name", "in", "required", "collectionFormat")}
        if parameter.get("schema") is not None:
            schema = _plain(parameter["schema"], where)
            if parameter.get("description") and isinstance(schema, Mapping):
                return {**schema, "description": parameter["description"]}
            return parameter["schema"]
        media = _json_media(parameter.get("content"), forms=False)
        if media is None:
            raise Unrepresentable(f"{where}: no schema")
        return media[1]

    def parameters(self) -> None:
        for parameter in _merged_parameters(self.item, self.operation, f"{self.method.upper()} {self.path}"):
            name, location = parameter["name"], parameter.get("in")
            where = f"{location} parameter {name!r}"
            if location in ("header", "cookie"):
                self.left_out_headers.append(f"{name} ({location})")
                continue
            if location == "body":
                self._body_schema(parameter.get("schema"), bool(parameter.get("required")), "application/json",
                                  name=name, description=parameter.get("description"))
                continue
            if location not in ("path", "query", "formData"):
                self.op.left_out.append(f"{where}: unknown location")
                continue
            required = location == "path" or parameter.get("required") is True
            try:
                schema = self.request.convert(self._parameter_schema(parameter, where), where)
            except Unrepresentable as err:
                if required or isinstance(err, FileUpload):
                    raise
                self.op.left_out.append(str(err))
                continue
            fallback = f"{_humanize(name)} ({'form field' if location == 'formData' else location + ' parameter'})."
            self._add(name, schema, "body" if location == "formData" else location, required, fallback)
        if not self.swagger:
            self._request_body()

    def _request_body(self) -> None:
        body = self.operation.get("requestBody")
        if body is None:
            return
        body = _plain(body, "requestBody")
        if not isinstance(body, Mapping):
            raise Unrepresentable("requestBody: not an object")
        required = body.get("required") is True
        media = _json_media(body.get("content"), forms=True)
        if media is None:
            kinds = ", ".join(map(str, (body.get("content") or {}).keys())) or "no content"
            if re.search(r"octet-stream|^(image|audio|video)/", kinds):
                raise FileUpload(f"request body: a file upload ({kinds})")
            if required:
                raise Unrepresentable(f"request body: only {kinds}, no JSON or form")
            self.op.left_out.append(f"request body: only {kinds}, no JSON or form")
            return
        name = self.operation.get("x-codegen-request-body-name") or "body"
        self._body_schema(media[1], required, media[0], name=str(name), description=body.get("description"))

    def _body_schema(self, schema: Any, required: bool, media: str, *, name: str, description: Any) -> None:
        where = "request body"
        try:
            converted = self.request.convert(schema, where)
        except Unrepresentable as err:
            if required or isinstance(err, FileUpload):
                raise
            self.op.left_out.append(str(err))
            return
        if converted["type"] == "object" and converted.get("properties"):
            self.body = f"{media}, flattened"
            inner_required = converted.get("required", [])
            owner = _label(_ref_of(schema) or "")
            for key, child in converted["properties"].items():
                fallback = f"{_humanize(key)} ({owner} field)." if owner else f"{_humanize(key)}."
                self._add(key, child, "body", required and key in inner_required, fallback)
            return
        self.body = f"{media}, whole"
        fallback = _text(description) or f"The request body ({media})."
        self._add(name, converted, "body", required, fallback)

    def returns(self) -> tuple[dict[str, Any], str | None]:
        responses = _plain(self.operation.get("responses") or {}, "responses")
        if not isinstance(responses, Mapping):
            return default_returns(self.name), None
        codes = sorted(str(c) for c in responses if re.match(r"^2(\d\d|XX)$", str(c), re.IGNORECASE))
        converter = _Converter(self.op, response=True)
        for code in codes:
            response = _plain(responses[code], f"response {code}")
            if not isinstance(response, Mapping):
                continue
            if self.swagger:
                produces = self.operation.get("produces") or self.doc.get("produces") or ["application/json"]
                if response.get("schema") is None or not any(_JSON_MEDIA.match(str(p)) for p in produces):
                    continue
                schema = response["schema"]
            else:
                media = _json_media(response.get("content"), forms=False)
                if media is None:
                    continue
                schema = media[1]
            try:
                converted = converter.convert(schema, f"response {code}")
            except Unrepresentable as err:
                self.op.left_out.append(f"{err} (returns: a plain object instead)")
                return default_returns(self.name), code
            if not converted.get("description"):
                converted["description"] = _text(response.get("description")) or f"Result of {self.name}."
            return converted, code
        return default_returns(self.name), None

    @property
    def name(self) -> str:
        return tool_name(self.method, self.path, self.operation)

    def spec(self, title: str) -> ApiSpec:
        self.parameters()
        returns, code = self.returns()
        parameters: dict[str, Any] = {"type": "object", "properties": self.properties}
        if self.required:
            parameters["required"] = self.required
        tags = [t for t in self.operation.get("tags") or [] if isinstance(t, str) and t.strip()]
        meta: dict[str, Any] = {"operation": f"{self.method.upper()} {self.path}", "in": self.op.locations}
        operation_id = self.operation.get("operationId")
        if isinstance(operation_id, str) and operation_id != self.name:
            meta["operationId"] = operation_id
        if self.body:
            meta["body"] = self.body
        if code:
            meta["returns_from"] = code
        for key, values in (("left_out", self.op.left_out), ("cut", self.op.cut),
                            ("headers_left_out", self.left_out_headers)):
            if values:
                meta[key] = list(dict.fromkeys(values))
        if self.operation.get("deprecated") is True:
            meta["deprecated"] = True
        return ApiSpec(name=self.name, description=_description(self.method, self.path, self.operation),
                       parameters=parameters, returns=returns, domain=[tags[0].strip() if tags else title],
                       source=f"openapi:{title}", meta={"openapi": meta})


def spec_title(doc: Mapping[str, Any], path: Path) -> str:
    """The source label of a spec: its info title (else the file's stem), as an MCP server's name is labelled."""
    info = doc.get("info") if isinstance(doc.get("info"), Mapping) else {}
    return server_label(_text(info.get("title")).strip() or Path(path).stem)


def import_document(doc: Mapping[str, Any], title: str) -> ImportResult:
    """ApiSpecs of every operation we can represent; the others skipped with their reasons."""
    import jsonref

    swagger = "swagger" in doc and "openapi" not in doc
    version = str(doc.get("swagger") if swagger else doc.get("openapi"))
    result = ImportResult(format=f"{'swagger' if swagger else 'openapi'} {version}")
    headers: set[str] = set()
    for index, (method, path, operation, item) in enumerate(_operations(doc)):
        converter = _Operation(doc, swagger, method, path, operation, item)
        label = f"{converter.name} ({method.upper()} {path})"
        try:
            spec = converter.spec(title)
        except Unrepresentable as err:
            result.skipped.append(Skipped(index, label, str(err)))
            continue
        except (jsonref.JsonRefError, ValueError, KeyError, TypeError, AttributeError) as err:
            if isinstance(err, InvalidApiSpecError):
                result.skipped.append(Skipped(index, label, "; ".join(err.reasons)))
                continue
            # A malformed corner of the document (a reference jsonref cannot follow, a list where a map belongs).
            result.skipped.append(Skipped(index, label, f"unreadable operation ({type(err).__name__}: {err})"))
            continue
        headers.update(converter.left_out_headers)
        result.add(index, spec)
    notes = result.notes
    parts = [(name, key) for spec in result.apis for key in ("left_out", "cut")
             for name in [spec.name] if spec.meta and spec.meta["openapi"].get(key)]
    if parts:
        left_out = sorted({name for name, key in parts if key == "left_out"})
        cut = sorted({name for name, key in parts if key == "cut"})
        notes.append(f"{len(left_out)} operations import without optional parts we cannot represent, {len(cut)} with "
                     "recursive or deep schemas cut or one oneOf alternative taken; `apis show NAME` lists them "
                     "under meta.openapi (left_out, cut)")
    if headers:
        notes.append("header and cookie parameters left out (credentials and transport are the caller's): "
                     + ", ".join(sorted(headers)))
    schemes = doc.get("securityDefinitions") if swagger else (doc.get("components") or {}).get("securitySchemes")
    if isinstance(schemes, Mapping) and schemes:
        notes.append("security schemes left out: " + ", ".join(map(str, schemes)))
    return result


def import_openapi(path: Path) -> ImportResult:
    """import_document on a file, after load_document's checks."""
    doc = load_document(Path(path))
    return import_document(doc, spec_title(doc, Path(path)))
