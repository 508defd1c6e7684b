"""List the tools of a local MCP server over stdio (official `mcp` SDK) and read them as ApiSpecs.

Tools are only listed (initialize + tools/list), never called. `list_server_tools` talks to the server and turns
every way a server can fail into one McpServerError line; `import_listing` is pure and applies our definition
checks, skipping with a reason what we cannot use, like the file importers do.
"""

from __future__ import annotations

import logging
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from localace.apis.importers import ImportResult, Skipped
from localace.apis.spec import ApiSpec, InvalidApiSpecError, default_returns
from localace.apis.tool_formats import ToolFormatError
from localace.errors import UserError

DEFAULT_TIMEOUT = 30.0
MAX_PAGES = 1000
INSTALL_HINT = "MCP import needs the mcp package: pip install 'localace[mcp]'"
# Keywords that only organise a schema (definitions are inlined first) or that no consumer of ours reads.
_DROPPED_KEYS = frozenset({"$schema", "$id", "$defs", "definitions", "$comment", "title"})
_MAX_SOURCE_NAME = 64


class McpServerError(UserError):
    """The MCP server could not be started, did not answer in time, or broke the protocol."""


@dataclass
class McpListing:
    """What a server said about itself and its tools (each tool as wire JSON: inputSchema, outputSchema, ...)."""

    server_name: str
    server_version: str
    tools: list[dict[str, Any]] = field(default_factory=list)


def parse_command(text: str) -> list[str]:
    """The server command line split as a shell would split it, without running a shell."""
    try:
        argv = shlex.split(text)
    except ValueError as e:
        raise McpServerError(f"--mcp {text!r}: {e}") from None
    if not argv:
        raise McpServerError("--mcp needs the command that starts an MCP server, e.g. --mcp mcp-server-time")
    return argv


# ---------------------------------------------------------------- talking to the server


class _Captured(logging.Handler):
    """Holds the SDK's log records during one listing: they explain a failure, and must not print a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def _list(argv: list[str], errlog: IO[str], timeout: float) -> McpListing:
    import anyio
    import mcp.types as types
    from mcp import ClientSession, StdioServerParameters, stdio_client

    from localace import __version__

    # stdio_client stops the server on every way out of this block (close stdin, terminate, then kill the
    # process tree, each wait bounded), so a timeout or an error never leaves a server running.
    with anyio.fail_after(timeout):
        async with stdio_client(StdioServerParameters(command=argv[0], args=argv[1:]), errlog=errlog) as streams:
            client = types.Implementation(name="localace", version=__version__)
            async with ClientSession(*streams, client_info=client) as session:
                init = (await session.initialize()).model_dump(mode="json", by_alias=True, exclude_none=True)
                info = init.get("serverInfo") or {}
                listing = McpListing(str(info.get("name") or ""), str(info.get("version") or ""))
                cursor: str | None = None
                seen: set[str] = set()
                for _ in range(MAX_PAGES):
                    page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
                    listing.tools += [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in page.tools]
                    cursor = page.next_cursor
                    if cursor is None:
                        return listing
                    if cursor in seen:
                        raise McpServerError(f"the server sent the tools/list cursor {cursor!r} twice")
                    seen.add(cursor)
                raise McpServerError(f"the server listed more than {MAX_PAGES} pages of tools")


def _innermost(error: BaseException) -> BaseException:
    """The first real error inside the exception groups anyio task groups wrap failures in."""
    import asyncio  # anyio.run's default backend: its cancellation is asyncio's

    while isinstance(error, BaseExceptionGroup):
        error = next((e for e in error.exceptions if not isinstance(e, asyncio.CancelledError)), error.exceptions[0])
    return error


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _explain(error: BaseException, argv: list[str], timeout: float, stderr: str, logs: list[str]) -> str:
    """One line for whatever went wrong, with the server's last stderr line as evidence when there is one."""
    from mcp.shared.exceptions import MCPError
    from pydantic import ValidationError

    command = shlex.join(argv)
    error = _innermost(error)
    said = _last_line(stderr)
    evidence = f" (server stderr: {said})" if said else (f" ({logs[-1][:200]})" if logs else "")
    if isinstance(error, FileNotFoundError):
        return f"cannot start MCP server: command {argv[0]!r} not found"
    if isinstance(error, PermissionError):
        return f"cannot start MCP server: {argv[0]!r} is not executable"
    if isinstance(error, OSError) and not isinstance(error, TimeoutError):
        return f"cannot start MCP server {command}: {error.strerror or error}"
    if isinstance(error, TimeoutError):
        return (f"MCP server {command} did not answer within {timeout:g}s{evidence}; is it an MCP server on stdio? "
                "(--timeout to wait longer)")
    if isinstance(error, McpServerError):
        return f"MCP server {command}: {error}"
    if isinstance(error, MCPError) and "closed" in str(error).lower():
        return f"MCP server {command} exited before listing its tools{evidence}"
    if isinstance(error, MCPError):
        return f"MCP server {command} refused the request: {error}{evidence}"
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"MCP server {command} sent a malformed answer ({where}: {first['msg']})"
    return f"MCP server {command} failed: {type(error).__name__}: {error}{evidence}"


def list_server_tools(argv: list[str], *, timeout: float = DEFAULT_TIMEOUT) -> McpListing:
    """Start the server, initialize, list every page of tools and stop it; any failure is one McpServerError."""
    try:
        import anyio
        import mcp  # noqa: F401
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    captured = _Captured()
    root = logging.getLogger()
    root.addHandler(captured)
    # The server's stderr goes to a file: its start-up chatter or traceback must not bury our one line.
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:
        try:
            return anyio.run(_list, argv, errlog, timeout)
        except Exception as error:  # the SDK's and the child's failures, wrapped in groups: all become one line
            errlog.seek(0)
            raise McpServerError(_explain(error, argv, timeout, errlog.read(), captured.messages)) from None
        finally:
            root.removeHandler(captured)


# ---------------------------------------------------------------- reading the tools


def _collapse_nullable(node: dict[str, Any], path: str) -> dict[str, Any]:
    """Optional[X] written as anyOf/oneOf [X, null] or type [X, "null"] becomes X: omitting it means null."""
    for key in ("anyOf", "oneOf", "allOf"):
        options = node.get(key)
        if not isinstance(options, list):
            continue
        real = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
        if len(real) == 1 and isinstance(real[0], Mapping) and (key == "allOf" or len(real) < len(options)):
            rest = {k: v for k, v in node.items() if k != key}
            node = {**real[0], **rest}  # the outer description, default... win over the option's
        elif len(real) > 1 and key != "allOf":
            kinds = "|".join(str(o.get("type", "?")) if isinstance(o, Mapping) else "?" for o in real)
            raise ToolFormatError([f"{path}: a union of types ({kinds}) is not supported"])
    types = node.get("type")
    if isinstance(types, list) and "null" in types and len(types) == 2:
        node = {**node, "type": next(t for t in types if t != "null")}
    if "default" in node and node["default"] is None:
        node = {k: v for k, v in node.items() if k != "default"}
    return node


def _inline_refs(value: Any, defs: Mapping[str, Any], path: str, stack: tuple[str, ...] = ()) -> Any:
    """Replace every local $ref (#/$defs/X, #/definitions/X) by its target; a recursive type cannot be inlined."""
    if isinstance(value, list):
        return [_inline_refs(item, defs, path, stack) for item in value]
    if not isinstance(value, dict):
        return value
    if isinstance(value.get("$ref"), str):
        ref = value["$ref"]
        name = ref.rsplit("/", 1)[-1]
        if not (ref.startswith("#/$defs/") or ref.startswith("#/definitions/")) or name not in defs:
            raise ToolFormatError([f"{path}: unresolvable $ref {ref!r}"])
        if name in stack:
            raise ToolFormatError([f"{path}: recursive type {name!r} ($ref) is not supported"])
        target = _inline_refs(defs[name], defs, path, (*stack, name))
        return {**target, **{k: _inline_refs(v, defs, path, stack) for k, v in value.items() if k != "$ref"}}
    return {k: _inline_refs(v, defs, path, stack) for k, v in value.items() if k not in ("$defs", "definitions")}


def _simplify(node: Any, path: str, *, is_property: bool = False) -> Any:
    if not isinstance(node, dict):
        return node
    node = _collapse_nullable(node, path)
    title = node.get("title")
    out = {k: v for k, v in node.items() if k not in _DROPPED_KEYS}
    # Generated schemas (pydantic, so FastMCP/MCPServer) title every property but describe few: a title is the
    # server's own label for the value, the best description there is. Other titles ("addArguments") are noise
    # in the tool lists rendered into every training prompt, and go.
    if is_property and "description" not in out and isinstance(title, str) and title.strip():
        out["description"] = title.strip()
    if isinstance(out.get("properties"), dict):
        out["properties"] = {key: _simplify(child, f"{path}.properties.{key}", is_property=True)
                             for key, child in out["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _simplify(out[key], f"{path}.{key}")
    return out


def normalize_schema(schema: Any, path: str) -> Any:
    """A generated JSON Schema brought into our subset without changing what it accepts for a call:
    local $refs inlined, Optional collapsed, bookkeeping keywords dropped. Unions of real types are refused."""
    if not isinstance(schema, dict):
        return schema  # check_definition reports it with its path
    defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _simplify(_inline_refs(schema, defs, path), path)


def server_label(server_name: str) -> str:
    """The server's name as it reported it, whitespace collapsed, at most 64 characters."""
    name = "".join(ch for ch in " ".join(server_name.split()) if ch.isprintable())[:_MAX_SOURCE_NAME]
    return name or "unnamed"


def tool_spec(tool: Mapping[str, Any], server: str) -> ApiSpec:
    """One listed MCP tool as an ApiSpec: inputSchema → parameters, outputSchema → returns, title/annotations → meta.

    The server is the tool's top-level domain: the dialog planner offers same-domain tools together (a server's
    tools belong together) and needs a second domain for irrelevance dialogs (a second server gives one)."""
    name = tool.get("name")
    annotations = tool.get("annotations") if isinstance(tool.get("annotations"), Mapping) else {}
    title = tool.get("title") or annotations.get("title")
    description = tool.get("description")
    description = description.strip() if isinstance(description, str) and description.strip() else title
    output = tool.get("outputSchema")
    meta = {key: tool[key] for key in ("title", "annotations") if tool.get(key)}
    return ApiSpec(
        name=name,
        description=description,
        parameters=normalize_schema(tool.get("inputSchema"), "parameters"),
        returns=normalize_schema(output, "returns") if output is not None else default_returns(str(name)),
        domain=[server],
        source=f"mcp:{server}",
        meta=meta or None,
    )


def import_listing(listing: McpListing) -> ImportResult:
    """ApiSpecs of every usable tool; the others skipped with their reasons, exact duplicates counted."""
    result = ImportResult(format="mcp")
    server = server_label(listing.server_name)
    for index, tool in enumerate(listing.tools):
        try:
            spec = tool_spec(tool, server)
        except (InvalidApiSpecError, ToolFormatError) as error:
            name = tool.get("name") if isinstance(tool.get("name"), str) else ""
            result.skipped.append(Skipped(index, name, "; ".join(error.reasons)))
            continue
        result.add(index, spec)
    return result
