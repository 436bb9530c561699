"""Why do two products differ? Compare two recipes step by step (pure, no database).

Steps are aligned by activity name and, when several steps share a name, by their order
among those steps. Each aligned pair reports the software versions, parameters, config
files and inputs that differ; unmatched steps are ``only_a`` / ``only_b``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from provdb.answers.recipe import Recipe, Step

__all__ = ["Change", "Comparison", "StepDiff", "compare_recipes", "diff_json", "diff_text"]


@dataclass(frozen=True)
class Change:
    """One difference: ``key`` (package, parameter, config or input name), A and B values."""

    key: str
    a: str | None
    b: str | None


@dataclass
class StepDiff:
    """An aligned pair of steps (or a step of one recipe only)."""

    name: str
    status: str  #: same | differs | only_a | only_b
    a: str | None  #: activity id in A
    b: str | None  #: activity id in B
    software: list[Change] = field(default_factory=list)
    parameters: list[Change] = field(default_factory=list)
    config_files: list[Change] = field(default_factory=list)
    inputs: list[Change] = field(default_factory=list)


@dataclass
class Comparison:
    """The step-by-step comparison of recipe ``a`` with recipe ``b``."""

    a: str
    b: str
    steps: list[StepDiff]

    @property
    def same(self) -> bool:
        """True when every step is the same."""
        return all(s.status == "same" for s in self.steps)


def _changes(a: dict[str, str | None], b: dict[str, str | None]) -> list[Change]:
    return [Change(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _configs(s: Step) -> dict[str, str | None]:
    return {c.name: f"{c.path} {c.hash_type}:{c.hash}" for c in s.config_files}


def _inputs(s: Step) -> dict[str, str | None]:
    # keyed by role (the file name when no role): a regenerated input keeps its role, and
    # the generation read is part of the value, so a regenerated file shows as a change
    out: dict[str, str | None] = {}
    for r in s.inputs:
        key = r.role or (r.location or r.entity_id).rsplit("/", 1)[-1]
        made = f" from {r.generated_by}" if r.generated_by else " (raw)"
        digest = f" {r.content_hash_type or 'hash'}:{r.content_hash}" if r.content_hash else ""
        out[key] = f"{r.location or r.entity_id}{digest}{made}"
    return out


def _pair(name: str, a: Step, b: Step) -> StepDiff:
    d = StepDiff(name, "same", a.activity_id, b.activity_id)
    d.software = _changes(dict(a.software), dict(b.software))
    d.parameters = _changes(dict(a.parameters), dict(b.parameters))
    d.config_files = _changes(_configs(a), _configs(b))
    d.inputs = _changes(_inputs(a), _inputs(b))
    if d.software or d.parameters or d.config_files or d.inputs:
        d.status = "differs"
    return d


def compare_recipes(a: Recipe, b: Recipe) -> Comparison:
    """Align ``a`` and ``b`` by step name (then order among equal names) and compare."""
    by_name_b: dict[str, list[Step]] = {}
    for s in b.steps:
        by_name_b.setdefault(s.name or "", []).append(s)
    seen: dict[str, int] = {}
    out: list[StepDiff] = []
    for s in a.steps:
        name = s.name or ""
        k = seen.get(name, 0)
        seen[name] = k + 1
        others = by_name_b.get(name, [])
        if k < len(others):
            out.append(_pair(name, s, others[k]))
        else:
            out.append(StepDiff(name, "only_a", s.activity_id, None))
    for name, others in by_name_b.items():
        for s in others[seen.get(name, 0) :]:
            out.append(StepDiff(name, "only_b", None, s.activity_id))
    return Comparison(a.product, b.product, out)


def _changes_json(changes: list[Change]) -> list[dict[str, Any]]:
    return [{"key": c.key, "a": c.a, "b": c.b} for c in changes]


def diff_json(cmp: Comparison) -> str:
    """JSON text: ``a``, ``b``, ``same``, ``steps[]`` (keys documented in docs/answers.md)."""
    body = {
        "a": cmp.a,
        "b": cmp.b,
        "same": cmp.same,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "activity_a": s.a,
                "activity_b": s.b,
                "software": _changes_json(s.software),
                "parameters": _changes_json(s.parameters),
                "config_files": _changes_json(s.config_files),
                "inputs": _changes_json(s.inputs),
            }
            for s in cmp.steps
        ],
    }
    return json.dumps(body, indent=2) + "\n"


def diff_text(cmp: Comparison) -> str:
    """A readable aligned report: a header per step, ``key  A  ->  B`` columns."""
    lines = [f"A: {cmp.a}", f"B: {cmp.b}", ""]
    if cmp.same:
        lines.append("The recipes are the same.")
    for n, s in enumerate(cmp.steps, 1):
        lines.append(f"[{n}] {s.name or '(unnamed)'}: {s.status.replace('_', ' ')}")
        for label, changes in (
            ("software", s.software),
            ("parameter", s.parameters),
            ("config", s.config_files),
            ("input", s.inputs),
        ):
            if not changes:
                continue
            width = max(len(c.key) for c in changes)
            wa = max(len(str(c.a or "-")) for c in changes)
            lines.append(f"  {label}:")
            for c in changes:
                lines.append(f"    {c.key:<{width}}  {c.a or '-':<{wa}}  ->  {c.b or '-'}")
    return "\n".join(lines) + "\n"
