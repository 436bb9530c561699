"""Module size: no Python module of ``provdb`` or ``tap`` is over 800 lines.

A module that long does more than one job; split it along its seams (as
``provdb/ingest/w3c/`` and ``provdb/ingest/lstosa/`` were). The modules that are over the
limit today are listed in :data:`KNOWN_OVER_LIMIT` with their size, so the list can only
shrink: a listed module may not grow, and one that has come under the limit must leave
the list. The check also runs on a small tree that breaks each rule, so it cannot pass by
finding nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: most lines a module may have
LIMIT = 800

#: modules over the limit today (path -> lines): none. Never add one; split it instead.
KNOWN_OVER_LIMIT: dict[str, int] = {}


def _sizes(root: Path, tops: tuple[str, ...]) -> dict[str, int]:
    """Lines of every ``*.py`` file under ``root/top`` for each top, by path relative to root."""
    return {
        path.relative_to(root).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for top in tops
        for path in sorted((root / top).rglob("*.py"))
    }


def _problems(sizes: dict[str, int], known: dict[str, int]) -> list[str]:
    """What breaks the rule: new oversized modules, grown or stale exceptions."""
    problems = []
    for rel, lines in sorted(sizes.items()):
        if lines <= LIMIT:
            continue
        if rel not in known:
            problems.append(f"{rel} has {lines} lines (limit {LIMIT}): split it")
        elif lines > known[rel]:
            problems.append(f"{rel} grew to {lines} lines (listed at {known[rel]}): split it")
    for rel, listed in sorted(known.items()):
        if sizes.get(rel, 0) <= LIMIT:
            problems.append(
                f"{rel} (listed at {listed}) is no longer over {LIMIT} lines: "
                "remove it from KNOWN_OVER_LIMIT"
            )
    return problems


def test_no_module_is_over_the_limit() -> None:
    sizes = _sizes(ROOT, ("provdb", "tap"))
    assert len(sizes) > 100, "the scan must see the modules of provdb and tap"
    assert "provdb/ingest/w3c/mapper.py" in sizes
    assert _problems(sizes, KNOWN_OVER_LIMIT) == []


def _tree(tmp_path: Path, files: dict[str, int]) -> dict[str, int]:
    for rel, lines in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n" * lines, encoding="utf-8")
    return _sizes(tmp_path, ("provdb", "tap"))


def test_a_module_at_the_limit_passes(tmp_path: Path) -> None:
    sizes = _tree(tmp_path, {"provdb/a.py": LIMIT, "tap/b/c.py": 10})
    assert sizes == {"provdb/a.py": LIMIT, "tap/b/c.py": 10}
    assert _problems(sizes, {}) == []


@pytest.mark.parametrize(
    ("files", "known", "problem"),
    [
        ({"tap/ui/big.py": LIMIT + 1}, {}, "tap/ui/big.py has 801 lines (limit 800): split it"),
        (
            {"provdb/big.py": 900},
            {"provdb/big.py": 850},
            "provdb/big.py grew to 900 lines (listed at 850): split it",
        ),
        (
            {"provdb/big.py": 700},
            {"provdb/big.py": 850},
            "provdb/big.py (listed at 850) is no longer over 800 lines: "
            "remove it from KNOWN_OVER_LIMIT",
        ),
        (
            {"provdb/other.py": 10},
            {"provdb/gone.py": 850},
            "provdb/gone.py (listed at 850) is no longer over 800 lines: "
            "remove it from KNOWN_OVER_LIMIT",
        ),
    ],
)
def test_the_check_finds_each_kind_of_problem(
    tmp_path: Path, files: dict[str, int], known: dict[str, int], problem: str
) -> None:
    assert _problems(_tree(tmp_path, files), known) == [problem]


def test_a_listed_module_that_did_not_grow_passes(tmp_path: Path) -> None:
    assert _problems(_tree(tmp_path, {"provdb/big.py": 850}), {"provdb/big.py": 850}) == []
