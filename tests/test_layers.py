"""The import graph of `localace/`: no circle between modules, and no import from a lower layer to a higher one.

Every `import` statement counts, wherever it is: at the top, inside a function (a lazy import is still a
dependency), under `if TYPE_CHECKING:`. The graph is read with `ast`, so nothing is imported to build it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import localace

PACKAGE = Path(localace.__file__).parent

# Bottom first. A unit (a folder of localace/ or a top-level module) may import units of its own layer or of
# layers below it, never above. Within a layer the unit graph must still have no circle.
LAYERS: list[set[str]] = [
    # The floor: plain types and helpers every layer stands on.
    {"errors", "hashing", "resources", "string_formats", "gc_pause", "model_catalogue", "model_io", "calls",
     "tasks", "bfcl_package"},
    # Models and storage.
    {"backends", "store"},
    # What the stages share: driving many tasks at once, prompt templates, run records, what values are (kinds,
    # and whether a conversation states them) and whose voice a text speaks in.
    {"scheduler", "prompts", "runs", "kinds", "voice"},
    # The stages.
    {"apis", "dialogs", "verify"},
    # What reads the stages' records: formats, evaluation, training, figures, the pipeline, scale-out.
    {"formats", "evaluate", "train", "quality", "stats", "report", "report_data", "report_html", "card",
     "pipeline", "scale"},
    # The command line.
    {"cli", "__main__", "__init__"},
]
LAYER = {unit: depth for depth, units in enumerate(LAYERS) for unit in units}

# Circles between units of one layer that are known and not yet broken. Keep it empty.
KNOWN_UNIT_CIRCLES: set[frozenset[str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module of localace that `path` imports (any depth in the file), with its line."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    return _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(text: str, package: list[str]) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            # `from localace.apis import naming` imports the module localace.apis.naming.
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return [(target, line) for target, line in found if target == "localace" or target.startswith("localace.")]


def _graph() -> dict[str, dict[str, int]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, dict[str, int]] = {m: {} for m in modules}
    for name, path in modules.items():
        for target, line in _imports(path):
            # Resolve `a.b.c` to the longest prefix that is a module (c may be a name defined in a.b).
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name and target != "localace":
                graph[name].setdefault(target, line)
    return graph


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each strongly connected component of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _unit_edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, targets in _graph().items():
        for target, line in targets.items():
            if _unit(module) != _unit(target):
                edges[(_unit(module), _unit(target))].append(f"{module}:{line} imports {target}")
    return edges


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in _graph()}
    assert units - set(LAYER) == set(), "add the new folder or module to LAYERS"


def test_no_circle_between_modules():
    graph = {module: set(targets) for module, targets in _graph().items()}
    assert _circles(graph) == []


def test_no_circle_between_units():
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in _unit_edges():
        graph[source].add(target)
    circles = [c for c in _circles(graph) if frozenset(c) not in KNOWN_UNIT_CIRCLES]
    assert circles == []


def test_no_import_from_a_lower_layer_to_a_higher_one():
    upward = [where for (source, target), places in sorted(_unit_edges().items())
              if LAYER[target] > LAYER[source] for where in places]
    assert upward == []


def test_the_graph_sees_lazy_relative_and_type_checking_imports():
    text = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from localace.tasks import Request\n"
            "def f():\n    from localace.apis import naming\n    from ..store import db\n")
    found = {target for target, _ in _imports_in(text, ["localace", "dialogs"])}
    assert found == {"localace.tasks.Request", "localace.apis.naming", "localace.store.db"}
