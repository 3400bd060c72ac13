"""Layering: core never imports the built-in plugins, and plugins (ours and the example third
party's) use only core's public names, exactly as a third party must.

Read from the source with :mod:`ast`, so an import inside a function counts as much as one at
the top, and a module named in a string (``importlib.import_module("ownscan.plugins.x")``) too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _imports(path: Path, package: str | None = None) -> Iterator[tuple[int, str, list[str]]]:
    """``(line, module, names)`` for every import in ``path`` (names: those taken from the
    module by ``from M import a, b``; empty for ``import M``), and every string constant that
    looks like an ownscan module name (a dynamic import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    if package is None:
        package = "ownscan." + ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            yield node.lineno, module, [a.name for a in node.names]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("ownscan.")
            and node.value.replace(".", "").replace("_", "").isalnum()
        ):
            yield node.lineno, node.value, []


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def _private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


def test_core_never_imports_the_builtin_plugins() -> None:
    bad = []
    for path in _sources("core"):
        rel = path.relative_to(REPO).as_posix()
        for line, module, names in _imports(path):
            targets = [module] + [f"{module}.{n}" for n in names]
            hit = next((t for t in targets if t.startswith("ownscan.plugins")), None)
            if hit is not None:
                bad.append(f"{rel}:{line}: {hit}")
    assert not bad, "core imports built-in plugins:\n" + "\n".join(bad)


@pytest.mark.parametrize("folder", ["plugins", "examples"])
def test_plugins_use_only_public_core_names(folder: str) -> None:
    """A plugin may import ``ownscan.core.a.b`` and take ``name`` from it only when no part of
    the module path nor the name starts with an underscore (``__future__`` aside)."""
    sources = [p for p in _sources(folder) if "/build/" not in p.as_posix()]
    assert sources
    bad = []
    for path in sources:
        rel = path.relative_to(REPO).as_posix()
        for line, module, names in _imports(path):
            if not module.startswith("ownscan.core"):
                continue
            private = [n for n in names if n.startswith("_")]
            if _private(module) or private:
                shown = f"{module} import {', '.join(private)}" if private else module
                bad.append(f"{rel}:{line}: {shown}")
    assert not bad, "plugins use private core names:\n" + "\n".join(bad)


def test_the_check_sees_what_it_must(tmp_path: Path) -> None:
    """The AST walk finds imports inside functions, relative imports and dynamic names."""
    code = (
        "from . import _x\n"
        "def f():\n"
        "    from ownscan.core.render import _setup\n"
        "    import importlib\n"
        "    importlib.import_module('ownscan.plugins.folder')\n"
    )
    path = tmp_path / "probe.py"
    path.write_text(code)
    found = list(_imports(path, package="ownscan.plugins"))
    assert (1, "ownscan.plugins", ["_x"]) in found
    assert (3, "ownscan.core.render", ["_setup"]) in found
    assert (5, "ownscan.plugins.folder", []) in found
