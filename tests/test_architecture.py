"""The package's import graph: every import (function-local ones too) points down the layers, and none is circular.

The layers are the design map of docs/architecture.md; a new subpackage must be placed there and here.
"""

from __future__ import annotations

import ast
import importlib
import warnings
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "learnedaug"

LAYERS = [  # low to high; a module may import its own layer or lower ones
    {"_version", "_checks", "_io", "_random"},
    {"data"},
    {"models"},
    {"transforms", "classifiers", "zoo"},
    {"mixing", "train"},
    {"metrics"},
    {"bench", "sample", "demo"},
    {"cli", "__init__"},
]
ALLOWED_UPWARD = {  # (importer, imported): why
    ("learnedaug.models.base", "learnedaug.zoo"): "GenerativeModel.from_pretrained takes zoo names (function-local)",
}
DEPRECATED = {  # aliases kept for one release; they point at the new homes, above or beside them
    "learnedaug.metrics.protocol": "learnedaug.bench",
    "learnedaug.metrics.downstream": "learnedaug.classifiers + learnedaug.bench",
    "learnedaug.metrics.classifiers": "learnedaug.classifiers",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:]) if "." in name else Path()
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    """Module -> the learnedaug modules it imports anywhere in its source."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.split(".")[0] == "learnedaug"}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.split(".")[0] != "learnedaug":
                    continue
                # ``from pkg import submodule`` imports the submodule; ``from pkg import name`` the package
                subs = {f"{source}.{a.name}" for a in node.names if _is_module(f"{source}.{a.name}")}
                targets |= subs or {source}
                if len(subs) < len(node.names):
                    targets.add(source)
        targets.discard(name)
        graph[name] = targets
    return graph


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"{module}: subpackage {top!r} has no layer; add it to LAYERS and docs/architecture.md")


def _edges() -> dict[str, set[str]]:
    return {m: {t for t in ts if (m, t) not in ALLOWED_UPWARD} for m, ts in import_graph().items() if m not in DEPRECATED}


def test_every_import_points_down_the_layers():
    upward = sorted(f"{m} -> {t}" for m, ts in _edges().items() for t in ts if _layer(t) > _layer(m))
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = _edges()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            elif nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_graph_walker_sees_function_local_imports():
    graph = import_graph()
    assert "learnedaug.zoo" in graph["learnedaug.models.base"]  # the documented exception, found inside a method
    assert "learnedaug.classifiers" in graph["learnedaug.metrics.features"]


@pytest.mark.parametrize("old, new", [
    ("learnedaug.metrics.protocol", "learnedaug.bench"),
    ("learnedaug.metrics.downstream", "learnedaug.classifiers"),
    ("learnedaug.metrics.classifiers", "learnedaug.classifiers"),
])
def test_moved_modules_keep_a_deprecated_alias(old, new):
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new):
        module = importlib.import_module(old)
    for name in module.__all__:
        assert getattr(module, name) is not None


@pytest.mark.parametrize("name, home", [
    ("build_classifier", "learnedaug.classifiers"), ("train_classifier", "learnedaug.classifiers"),
    ("evaluate", "learnedaug.classifiers"), ("wilcoxon_table", "learnedaug.bench"),
])
def test_metrics_names_that_moved_warn_and_still_work(name, home):
    import learnedaug.metrics as metrics

    with pytest.warns(DeprecationWarning, match=home):
        value = getattr(metrics, name)
    assert value is getattr(importlib.import_module(home), name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from learnedaug.metrics import compute_fid  # noqa: F401  (what stayed does not warn)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        metrics.nope  # noqa: B018
