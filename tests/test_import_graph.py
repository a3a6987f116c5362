"""Imports flow one way (shared/DESIGN.md, "Layout"): no cycles, no lower layer importing a higher
one, and ``tasd/`` and ``hardware/`` free of Lightning and Hydra.

Every module of the three top-level packages is parsed with ``ast``: top-level and function-level
imports, relative ones resolved. A back-edge fails here, naming its file:line, before it turns
into an import-order bug or a torch import inside somebody else's Hydra app.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tasder_plugin", "evaluation", "hydra_plugins")

# The layers, lowest first: layer -> (its components, the layers it builds on). A component is a
# module or subpackage directly under tasder_plugin, or a whole top-level package; the bare
# "tasder_plugin" is the package's __init__ (the public API). A layer may import the layers it
# builds on and, transitively, theirs; it may only build on layers listed before it.
LAYERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "errors": (("tasder_plugin.errors",), ()),  # the user-error base classes, stdlib only
    "utilities": (("tasder_plugin.atomic_io", "tasder_plugin.progress"), ("errors",)),
    "locator": (("tasder_plugin.conf_location",), ()),  # stdlib only: Hydra's plugin scan loads it
    "tasd": (("tasder_plugin.tasd",), ("errors",)),  # the math only
    "config": (("tasder_plugin.config",), ("errors",)),  # plain data -> typed dataclasses
    "registry": (("tasder_plugin.registry",), ("config",)),  # named variants, did-you-mean errors
    "tasks": (("tasder_plugin.tasks",), ("registry",)),  # what a model outputs, reads, is scored by
    "nn": (("tasder_plugin.nn",), ("tasd", "config", "utilities")),
    "profile": (("tasder_plugin.profile",), ("nn",)),
    "hardware": (("tasder_plugin.hardware",), ("tasd", "registry", "utilities", "locator")),
    "data": (("tasder_plugin.data",), ("registry", "utilities")),
    "models": (("tasder_plugin.models",), ("data", "nn", "tasks", "locator")),
    "search": (("tasder_plugin.search",), ("hardware", "profile", "tasks")),
    "validation": (("tasder_plugin.validation",), ("hardware", "profile")),
    "pipeline": (("tasder_plugin.pipeline",), ("hardware", "profile")),  # profile -> apply -> cost
    "api": (("tasder_plugin",), ("search",)),
    "lightning": (("tasder_plugin.lightning",), ("search", "pipeline")),
    # lm-evaluation-harness's `tasder` model type: load, apply and cost as the harness does
    "lmeval": (("tasder_plugin.lmeval",), ("models", "pipeline")),
    "hydra_plugins": (("hydra_plugins",), ("locator",)),  # Hydra loads it; nothing imports it
    "demo": (("tasder_plugin.demo", "tasder_plugin.__main__"), ("tasd",)),
    "evaluation": (("evaluation",), ("api", "lightning", "models", "validation")),
}
FRAMEWORKS = {"hydra", "omegaconf", "hydra_plugins", "lightning", "lightning_fabric",
              "pytorch_lightning"}  # fmt: skip
FREE_OF_FRAMEWORKS = ("tasd", "hardware")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported project module, or the top-level name of a third-party one
    file: str  # relative to the root
    line: int
    external: bool
    type_only: bool  # under ``if TYPE_CHECKING:``: a dependency, but never executed

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _bound_names(tree: ast.Module) -> set[str]:
    """Names a module binds at import time (not inside functions or classes)."""
    names: set[str] = set()
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                pending.extend(getattr(node, field, []))
        elif isinstance(node, ast.ExceptHandler):
            pending.extend(node.body)
    return names


class Project:
    """The parsed modules of PACKAGES under ``root`` and every import between them."""

    def __init__(self, root: Path):
        self.root = root
        self.trees: dict[str, tuple[str, ast.Module]] = {}
        for package in PACKAGES:
            for path in sorted((root / package).rglob("*.py")):
                relative = path.relative_to(root)
                self.trees[_module_name(relative)] = (str(relative), ast.parse(path.read_text()))
        self.packages = {m for m, (f, _) in self.trees.items() if f.endswith("__init__.py")}
        self.bound = {m: _bound_names(self.trees[m][1]) for m in self.packages}
        self.imports = [i for m in sorted(self.trees) for i in self._imports_of(m)]

    def _deepest(self, name: str) -> str:
        """The deepest project module that ``name`` lies in (a name imported from it, say)."""
        parts = name.split(".")
        while len(parts) > 1 and ".".join(parts) not in self.trees:
            parts.pop()
        return ".".join(parts)

    def _from_target(self, base: str, name: str) -> str:
        """What ``from base import name`` imports: the submodule ``name``, or ``base`` itself."""
        full = f"{base}.{name}"
        if full in self.trees:
            return full
        lazy = base in self.packages and "__getattr__" in self.bound[base]  # PEP 562: names too
        if name != "*" and base in self.packages and name not in self.bound[base] and not lazy:
            return full  # a submodule that is not Python source (a compiled extension)
        return self._deepest(base)

    def _imports_of(self, module: str):
        file, tree = self.trees[module]
        package = module if module in self.packages else module.rpartition(".")[0]
        for node, type_only in _import_nodes(tree):
            if isinstance(node, ast.Import):
                targets = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [(base, alias.name) for alias in node.names]
            for base, name in targets:
                top = base.split(".")[0]
                if top not in PACKAGES:
                    if top != "__future__":
                        yield Import(module, top, file, node.lineno, True, type_only)
                    continue
                target = self._deepest(base) if name is None else self._from_target(base, name)
                if target != module:
                    yield Import(module, target, file, node.lineno, False, type_only)

    def edges(self, key=lambda m: m, executed=False) -> dict[tuple[str, str], Import]:
        """The first import of each (source, target) pair, with modules mapped by ``key``;
        ``executed``: only the imports that run (not those under ``if TYPE_CHECKING:``)."""
        found: dict[tuple[str, str], Import] = {}
        for imp in self.imports:
            pair = (key(imp.source), key(imp.target))
            if not imp.external and pair[0] != pair[1] and not (executed and imp.type_only):
                found.setdefault(pair, imp)
        return found


def _import_nodes(node: ast.AST, type_only: bool = False):
    """Every import statement, anywhere (functions too), and whether only type checkers run it."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, type_only
    elif isinstance(node, ast.If) and _is_type_checking(node.test):
        for child in node.body:
            yield from _import_nodes(child, True)
        for child in node.orelse:
            yield from _import_nodes(child, type_only)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _import_nodes(child, type_only)


def _is_type_checking(test: ast.expr) -> bool:
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


def component(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "tasder_plugin" else parts[0]


def _components() -> dict[str, str]:
    return {c: layer for layer, (components, _) in LAYERS.items() for c in components}


def _reachable_layers() -> dict[str, set[str]]:
    """Each layer with every layer below it that it may import (itself included)."""
    reach: dict[str, set[str]] = {}
    for layer, (_, below) in LAYERS.items():  # lowest first: the ones below are done already
        reach[layer] = {layer}.union(*(reach[b] for b in below))
    return reach


def find_cycles(edges: dict[tuple[str, str], Import]) -> list[str]:
    """One shortest cycle per strongly connected component, as 'a -> b -> a (file:line, ...)'."""
    graph: dict[str, list[str]] = defaultdict(list)
    for a, b in sorted(edges):
        graph[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            scc = []
            while not scc or scc[-1] != node:
                scc.append(stack.pop())
            if len(scc) > 1:
                components.append(sorted(scc))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_describe_cycle(_shortest_cycle(graph, scc), edges) for scc in components]


def _shortest_cycle(graph: dict[str, list[str]], scc: list[str]) -> list[str]:
    start, members = scc[0], set(scc)
    parent, frontier = {start: None}, [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in graph[node]:
                if nxt == start:
                    path = [node]
                    while parent[path[-1]] is not None:
                        path.append(parent[path[-1]])
                    return [*reversed(path), start]
                if nxt in members and nxt not in parent:
                    parent[nxt] = node
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    raise AssertionError(f"no cycle through {start}")


def _describe_cycle(path: list[str], edges: dict[tuple[str, str], Import]) -> str:
    where = ", ".join(edges[(a, b)].where() for a, b in zip(path, path[1:]))
    return f"{' -> '.join(path)} ({where})"


def layer_violations(project: Project) -> list[str]:
    layer_of, reach = _components(), _reachable_layers()
    problems = []
    for (source, target), imp in project.edges(component).items():
        low, high = layer_of.get(source), layer_of.get(target)
        if low and high and high not in reach[low]:  # unplaced: the table test names them
            problems.append(
                f"{imp.where()}: {imp.source} -> {imp.target}: layer {low!r} may not import "
                f"layer {high!r} (it builds on {sorted(reach[low] - {low})})"
            )
    return problems


def framework_imports(project: Project) -> list[str]:
    """Imports of Lightning or Hydra by tasd/, hardware/, or any project module they reach."""
    layer_of = _components()
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in project.edges():
        graph[source].add(target)
    via = {m: m for m in project.trees if layer_of.get(component(m)) in FREE_OF_FRAMEWORKS}
    pending = list(via)
    while pending:
        module = pending.pop()
        for nxt in graph[module] - via.keys():
            via[nxt] = via[module]
            pending.append(nxt)
    return [
        f"{imp.where()}: {imp.source} imports {imp.target} (reached from {via[imp.source]})"
        for imp in project.imports
        if imp.source in via and imp.target.split(".")[0] in FRAMEWORKS
    ]


def tail_imports(project: Project) -> list[str]:
    """Module-level imports after a def or class: an edge (a registration, say) hidden at the
    bottom of a file, where nobody reading the imports sees it."""
    problems = []
    for file, tree in sorted(project.trees.values()):
        code_seen = False
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                code_seen = True
            elif code_seen and isinstance(node, (ast.Import, ast.ImportFrom)):
                problems.append(f"{file}:{node.lineno}: module-level import after code")
    return problems


def _report(problems: list[str]) -> str:
    return "\n".join(["", *problems])


PROJECT = Project(ROOT)


def test_the_layer_table_is_ordered_and_places_every_component():
    seen: set[str] = set()
    for layer, (_, below) in LAYERS.items():
        assert set(below) <= seen, f"layer {layer!r} builds on a layer listed after it"
        seen.add(layer)
    placed = _components()
    unplaced = sorted({component(m) for m in PROJECT.trees} - placed.keys())
    assert not unplaced, f"place these in LAYERS (tests/test_import_graph.py): {unplaced}"


def _module_cycles(project: Project) -> list[str]:
    return find_cycles(project.edges(executed=True))


def test_no_import_cycles_between_modules():
    """Imports that run, at module or function level; a type-checking-only import never runs."""
    assert not (cycles := _module_cycles(PROJECT)), _report(cycles)


def test_no_import_cycles_between_packages():
    assert not (cycles := find_cycles(PROJECT.edges(component))), _report(cycles)


def test_no_lower_layer_imports_a_higher_one():
    assert not (problems := layer_violations(PROJECT)), _report(problems)


def test_tasd_and_hardware_import_neither_lightning_nor_hydra():
    assert not (problems := framework_imports(PROJECT)), _report(problems)


def test_no_import_hides_below_the_code():
    assert not (problems := tail_imports(PROJECT)), _report(problems)


def test_the_hydra_plugin_loads_without_torch():
    """Hydra's plugin scan imports every hydra_plugins module in every Hydra app; the package
    __init__ imports its public names lazily, so that the config locator stays light."""
    code = (
        "import sys, hydra_plugins.tasder.search_path; "
        "print(sorted(m for m in ('torch', 'lightning', 'numpy') if m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", f"the plugin imports {run.stdout.strip()}"


def test_every_lazy_public_name_resolves():
    import tasder_plugin

    for name in ("TASDSeries", "NMPattern", "decompose", "approximate", "nm_mask", "tasd_stats"):
        assert name in tasder_plugin.__all__
    for name in tasder_plugin.__all__:
        assert getattr(tasder_plugin, name) is not None, name


def test_tasd_core_imports_nothing_but_torch():
    """tasder_plugin/tasd is the math only: outside the project, the stdlib and torch."""
    allowed = set(sys.stdlib_module_names) | {"torch"}
    math = [i for i in PROJECT.imports if i.source.startswith("tasder_plugin.tasd")]
    wrong = [f"{i.where()}: {i.source} imports {i.target}" for i in math
             if i.external and i.target not in allowed]  # fmt: skip
    assert not wrong, _report(wrong)


def test_a_new_back_edge_or_cycle_is_caught(tmp_path):
    """The checks above fail on a lower layer importing a higher one, inside a function too."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=_only_python)
    stats = tmp_path / "tasder_plugin" / "tasd" / "stats.py"
    text = stats.read_text() + "\n\ndef _late():\n    from ..search import api\n"
    line = len(text.splitlines())
    text += "\n\ndef _public():\n    from .. import run_search\n"  # through the lazy API
    stats.write_text(text)
    planted = Project(tmp_path)
    edge = "tasder_plugin.tasd.stats -> tasder_plugin.search.api"
    expected = f"tasder_plugin/tasd/stats.py:{line}: {edge}: layer 'tasd' may not import"
    violations = layer_violations(planted)
    assert any(p.startswith(expected) for p in violations)
    lazy = f"tasder_plugin/tasd/stats.py:{line + 4}: tasder_plugin.tasd.stats -> tasder_plugin:"
    assert any(p.startswith(lazy) for p in violations), violations
    assert any(edge in c for c in _module_cycles(planted))
    cycles = find_cycles(planted.edges(component))
    assert any("tasder_plugin.tasd -> tasder_plugin.search" in c for c in cycles), cycles


def _only_python(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if not n.endswith(".py") and not (Path(directory) / n).is_dir()]
