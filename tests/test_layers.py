"""The import graph of the project's own modules, read from their source (ast): no cycle, and
every import between rooms points down the floors that ARCHITECTURE.md draws (README
"Layout"). tests/ and bench/ may import anything."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Room (top-level package or module) -> floor. A room may import its own modules and rooms on
# lower floors; portal and cli share floor 6 and so never import each other. The composition
# roots (floor 7) wire everything and may import anything, cycles excepted.
FLOORS = {
    "domain": 1,
    "settings": 1.5,  # configuration is checked against the domain's codes (locales)
    "db": 2,
    "mail": 2,
    "activities": 3,
    "workflows": 4,
    "runtime": 5,
    "portal": 6,
    "cli": 6,
    "worker": 7,
    "starter": 7,
    "demo": 7,
}
ROOTS = 7
EXEMPT = {"tests", "bench"}
NOT_CODE = {".venv", ".git", "var", "data", "docs", "templates", "build"}


def rooms() -> dict[str, Path]:
    """Every top-level package (a folder with Python files) and module of the project."""
    found: dict[str, Path] = {}
    for path in sorted(ROOT.iterdir()):
        if path.name in NOT_CODE | EXEMPT or path.name.startswith("."):
            continue
        if path.is_dir() and any(path.rglob("*.py")):
            found[path.name] = path
        elif path.suffix == ".py":
            found[path.stem] = path
    return found


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of every room."""
    found: dict[str, Path] = {}
    for path in rooms().values():
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            parts = list(file.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = file
    return found


def imports(name: str, file: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(project module imported, line) for every import statement in `file`, wherever it
    stands (also inside functions and `TYPE_CHECKING`)."""

    def resolve(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    package = name.split(".") if file.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            # `from pkg import sub` imports the module pkg.sub when there is one
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for target in targets:
            found = resolve(target)
            if found and found != name:
                yield found, node.lineno
                yield from ((p, node.lineno) for p in _packages_run(found, name, known))


def _packages_run(target: str, importer: str, known: set[str]) -> Iterator[str]:
    """The packages whose `__init__` importing `target` runs first, unless `importer` is
    inside them (then the package is already being imported)."""
    parts = target.split(".")
    for n in range(1, len(parts)):
        package = ".".join(parts[:n])
        if package in known and not importer.startswith(package + "."):
            yield package


def graph() -> dict[str, dict[str, int]]:
    """module -> {module it imports: first line}."""
    found = modules()
    known = set(found)
    edges: dict[str, dict[str, int]] = {}
    for name, file in found.items():
        edges[name] = {}
        for target, line in imports(name, file, known):
            edges[name].setdefault(target, line)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
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
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def room(module: str) -> str:
    return module.split(".")[0]


def test_every_top_level_room_has_a_floor() -> None:
    assert sorted(set(rooms()) - set(FLOORS)) == []


def test_no_module_imports_itself_back_through_others() -> None:
    assert cycles(graph()) == []


def test_every_import_between_rooms_points_to_a_lower_floor() -> None:
    upward = [
        f"{source}:{line} imports {target} (floor {FLOORS[room(source)]} -> {FLOORS[room(target)]})"
        for source, targets in graph().items()
        for target, line in targets.items()
        if room(source) != room(target)
        and FLOORS[room(source)] < ROOTS
        and FLOORS[room(target)] >= FLOORS[room(source)]
    ]
    assert upward == []


def test_the_checker_sees_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    edges = {"db.a": {"runtime.b": 3}, "runtime.b": {"db.a": 1}}
    assert cycles(edges) == [["db.a", "runtime.b"]]
    assert FLOORS[room("runtime.b")] > FLOORS[room("db.a")]
    file = tmp_path / "x.py"
    file.write_text("from . import b\ndef f():\n    from runtime.b import thing\n")
    assert sorted(imports("db.x", file, {"db.b", "runtime.b"})) == [("db.b", 1), ("runtime.b", 3)]


def test_the_readme_layout_names_every_room() -> None:
    layout = (ROOT / "README.md").read_text(encoding="utf-8").split("## Layout", 1)[1]
    layout = layout.split("\n## ", 1)[0]
    missing = [r for r in FLOORS if f"`{r}/`" not in layout and f"`{r}.py`" not in layout]
    assert missing == []
