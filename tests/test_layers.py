"""The house rules of ARCHITECTURE.md: imports point down the pipeline, no module imports itself in a loop,
few modules sit directly in agent/, and the documents name files and modules that exist.

Every import counts, also those deferred into functions or under ``TYPE_CHECKING``: a loop held together by
a deferred import is still a loop.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
AGENT = ROOT / "agent"

# ARCHITECTURE.md "Which way imports point": a package imports only from packages on lower layers.
LAYERS: dict[str, int] = {
    "agent": 0,  # the package root (__init__: versions)
    "errors": 0,
    "settings": 0,
    "cases": 1,
    "facts": 2,
    "criteria": 3,
    "knowledge": 4,
    "backends": 5,
    "review": 6,
    "store": 6,
    "letters": 7,
    "evals": 8,
    "service": 9,
    "web": 10,
    "cli": 11,
    "__main__": 12,
}
FLOOR = {"agent", "errors", "settings"}  # usable from every layer (layer 0 modules do not import each other upwards)


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(AGENT.rglob("*.py"))}


def imports_of(name: str) -> Iterator[tuple[int, str]]:
    """(line, imported agent module) for every import statement in the module, at any depth."""
    path = modules()[name]
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_pkg else name.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            targets = [base, *(f"{base}.{a.name}" for a in node.names)]
        for target in targets:
            while target and target not in modules():
                target = target.rpartition(".")[0]
            if target and target != name:
                yield node.lineno, target


def unit(name: str) -> str:
    """The layer unit of a module: its subpackage, or the module itself directly in agent/."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "agent"


def test_every_unit_has_a_layer() -> None:
    units = {unit(m) for m in modules()}
    assert units <= set(LAYERS), f"add {sorted(units - set(LAYERS))} to LAYERS here and to ARCHITECTURE.md"


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for name in modules():
        here = unit(name)
        for line, target in imports_of(name):
            there = unit(target)
            if there == here or there in FLOOR:
                continue
            if LAYERS[there] >= LAYERS[here]:
                where = f"{modules()[name].relative_to(ROOT)}:{line}"
                wrong.append(f"{where} imports {target} (layer {here} {LAYERS[here]} -> {there} {LAYERS[there]})")
    assert wrong == [], "\n".join(wrong)


def test_the_floor_imports_nothing_above_it() -> None:
    above = [
        f"{name} imports {target}"
        for name in modules()
        if unit(name) in FLOOR
        for _, target in imports_of(name)
        if unit(target) not in FLOOR
    ]
    assert above == []


def test_no_import_cycles() -> None:
    # A package importing its own child (a re-export) is no loop.
    edges = {m: {t for _, t in imports_of(m) if not t.startswith(m + ".")} for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in modules():
        if v not in index:
            visit(v)
    assert cycles == []


def test_few_modules_sit_directly_in_agent() -> None:
    assert len(list(AGENT.glob("*.py"))) <= 15


# --- the documents name what exists ----------------------------------------------------------------

DOCS = ["README.md", "ARCHITECTURE.md", "evals/README.md", "docs/case-format.md"]
PATH_RE = re.compile(r"(?<![\w./-])((?:agent|tests|benches|guidelines|prompts|evals|examples|scripts|docs)/[\w./-]*\w)")
DOTTED_RE = re.compile(r"(?<![\w./-])agent(?:\.[A-Za-z_]\w*)+")


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS)
def test_documents_name_files_and_modules_that_exist(doc: str) -> None:
    text = (ROOT / doc).read_text()
    paths = {p for p in PATH_RE.findall(text) if "<" not in p and "*" not in p and not p.endswith("-v1")}
    missing = sorted(p for p in paths if not (ROOT / p).exists() and not (ROOT / doc).parent.joinpath(p).exists())
    unknown = sorted(d for d in set(DOTTED_RE.findall(text)) if not resolves(d))
    assert (missing, unknown) == ([], [])
