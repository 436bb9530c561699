"""Layers: ``provdb`` sits below ``tap``, and no module of ``tap`` imports the app factory.

An AST scan of the source (no import side effects): every ``import``/``from ... import``
statement and every ``importlib.import_module``/``__import__`` call with a string naming
the module. Each rule is also run on a small source that breaks it, so the scanner
cannot pass by finding nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: the one place provdb may import tap: the service entry point, lazily
PROVDB_TAP_ALLOWED = {("provdb/serve.py", "_service")}


def _imports(source: str, package: str) -> list[tuple[str, str, int]]:
    """(imported module, enclosing function or "", line) of every import in ``source``.

    ``package`` is the dotted package of the module, to resolve relative imports.
    Dynamic imports count with the constant prefix of their argument ("tap." for
    ``import_module(f"tap.{name}")``).
    """
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, func: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = func
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = func or child.name
            if isinstance(child, ast.Import):
                found.extend((alias.name, func, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                found.append((module, func, child.lineno))
                found.extend(
                    (f"{module}.{alias.name}", func, child.lineno) for alias in child.names
                )
            elif isinstance(child, ast.Call) and child.args:
                name = getattr(child.func, "attr", None) or getattr(child.func, "id", None)
                if name in ("import_module", "__import__"):
                    arg = child.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.append((arg.value, func, child.lineno))
                    elif isinstance(arg, ast.JoinedStr) and arg.values:
                        first = arg.values[0]
                        prefix = first.value if isinstance(first, ast.Constant) else ""
                        found.append((str(prefix), func, child.lineno))
            visit(child, inner)

    visit(ast.parse(source), "")
    return found


def _modules(top: str) -> list[tuple[str, str, str]]:
    """(path relative to the root, dotted package, source) of every module under ``top``."""
    out = []
    for path in sorted((ROOT / top).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        package = ".".join(parts if parts[-1] == "__init__" else parts[:-1]).removesuffix(
            ".__init__"
        )
        out.append((rel, package, path.read_text(encoding="utf-8")))
    return out


def _is_tap(module: str) -> bool:
    return module == "tap" or module.startswith("tap.")


def _provdb_tap_imports(modules: list[tuple[str, str, str]]) -> list[str]:
    bad = []
    for rel, package, source in modules:
        for module, func, line in _imports(source, package):
            if _is_tap(module) and (rel, func) not in PROVDB_TAP_ALLOWED:
                bad.append(f"{rel}:{line} imports {module.split('.')[0]}")
    return sorted(set(bad))


def _app_imports(modules: list[tuple[str, str, str]]) -> list[str]:
    bad = []
    for rel, package, source in modules:
        if rel == "tap/app.py":
            continue
        for module, _func, line in _imports(source, package):
            if module == "tap.app" or module.startswith("tap.app."):
                bad.append(f"{rel}:{line} imports tap.app")
    return sorted(set(bad))


def test_provdb_never_imports_tap_but_in_the_service_entry_point() -> None:
    modules = _modules("provdb")
    assert len(modules) > 50, "the scan must see provdb's modules"
    assert _provdb_tap_imports(modules) == []
    # the allowed place exists and is the dynamic import it is meant to be
    serve = next(source for rel, _p, source in modules if rel == "provdb/serve.py")
    assert [(m, f) for m, f, _line in _imports(serve, "provdb") if _is_tap(m)] == [
        ("tap.", "_service")
    ]


@pytest.mark.parametrize(
    "source",
    [
        "import tap\n",
        "from tap.votable import Field\n",
        "def f():\n    from tap.app import create_app\n",
        "import importlib\nimportlib.import_module('tap.config')\n",
        "def g(n):\n    return __import__(f'tap.{n}')\n",
    ],
)
def test_the_provdb_scan_finds_each_kind_of_tap_import(source: str) -> None:
    assert len(_provdb_tap_imports([("provdb/x.py", "provdb", source)])) == 1


def test_no_tap_module_imports_the_app_factory_module() -> None:
    modules = _modules("tap")
    blueprints = {"tap/sync.py", "tap/provsap.py", "tap/ui/blueprint.py", "tap/uws/routes.py"}
    assert blueprints <= {rel for rel, _p, _s in modules}
    assert _app_imports(modules) == []


@pytest.mark.parametrize(
    ("rel", "package", "source"),
    [
        ("tap/ui/node_pages.py", "tap.ui", "from tap.app import tap_db\n"),
        ("tap/sync.py", "tap", "from .app import base_url\n"),
        ("tap/uws/routes.py", "tap.uws", "from ..app import tap_db\n"),
        ("tap/vosi/routes.py", "tap.vosi", "from tap import app\n"),
    ],
)
def test_the_blueprint_scan_finds_each_kind_of_app_import(
    rel: str, package: str, source: str
) -> None:
    assert len(_app_imports([(rel, package, source)])) == 1
