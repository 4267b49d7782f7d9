"""The shape of the house (issue 17): rooms per concern, no import circles, imports at the top.

These read the source (ast), not the running app: a module moved back to the root, a circle of imports, or a
project module imported inside a function fails here, with the place named.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ntpd_map", "layers")
#: the root of ntpd_map keeps only the few modules every room uses (STYLE.md, "The shape we want")
MAX_ROOT_MODULES = 15
#: packages that may be imported inside a function: heavy or optional, needed by one command or one export
LAZY_OK = ("ntpd_map", "layers")  # (checked below: the project's own modules are never lazy)


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def top_level_imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``module`` imports when it is imported (not under TYPE_CHECKING, not in a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and _is_type_checking(node):
                visit(node.orelse)
                continue
            if isinstance(node, (ast.If, ast.Try, ast.With)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                visit(getattr(node, "finalbody", []))
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.split(".")[0] in PACKAGES)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, node, path.name == "__init__.py")
                if target.split(".")[0] not in PACKAGES:
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in known else target)

    visit(tree.body)
    found.discard(module)
    return found


def local_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name
            elif isinstance(node, ast.ImportFrom):
                yield node.lineno, ("." * node.level) + (node.module or "")


def test_root_of_the_package_keeps_at_most_fifteen_modules() -> None:
    root = sorted(p.name for p in (ROOT / "ntpd_map").glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, f"{len(root)} modules in ntpd_map/: {root}"


def test_rooms_of_the_house_exist() -> None:
    for room in ("pages", "http", "access", "store", "geo", "ingest", "analytics", "briefing"):
        assert (ROOT / "ntpd_map" / room / "__init__.py").is_file(), f"ntpd_map/{room}/ is not a package"
    for page in ("ops", "wall", "analytics", "coverage", "briefing", "login"):
        assert (ROOT / "ntpd_map" / "pages" / page / "__init__.py").is_file(), f"no package for the {page} page"
    assert (ROOT / "ntpd_map" / "pages" / "live.py").is_file(), "the live refresh lives in pages/live.py"


def test_tests_mirror_the_rooms() -> None:
    for room in ("pages", "http", "access", "store", "geo", "ingest", "browser", "bench"):
        folder = ROOT / "tests" / room
        assert folder.is_dir() and any(folder.glob("test_*.py")), f"tests/{room}/ has no tests"


def test_no_import_circles() -> None:
    mods = dict(modules())
    known = set(mods)
    graph = {m: top_level_imports(m, p, known) & known for m, p in mods.items()}
    # Tarjan's strongly connected components: any component of more than one module is a circle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
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
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    assert not circles, f"import circles: {circles}"


def test_the_projects_own_modules_are_imported_at_the_top() -> None:
    lazy = [f"{path.relative_to(ROOT)}:{line} imports {name}"
            for _module, path in modules() for line, name in local_imports(path)
            if name.startswith(".") or name.split(".")[0] in LAZY_OK]
    assert not lazy, "import the project's modules at the top of the module:\n" + "\n".join(lazy)


def test_the_checks_above_can_fail(tmp_path: Path) -> None:
    """The circle finder and the local-import finder see what they are meant to see."""
    a = tmp_path / "a.py"
    a.write_text("from ntpd_map import b\nimport typing\nif typing.TYPE_CHECKING:\n    from ntpd_map import c\n"
                 "def f():\n    from ntpd_map.d import x\n    import numpy\n")
    assert top_level_imports("ntpd_map.a", a, {"ntpd_map.b", "ntpd_map.c"}) == {"ntpd_map.b"}
    assert [name for _line, name in local_imports(a)] == ["ntpd_map.d", "numpy"]
