"""Writers of a :class:`~provdb.answers.recipe.Recipe` and of the affected products.

Pure functions of the dataclasses (no database): Markdown (readable), a shell script a
person can adapt (provdb never runs it) and JSON (stable keys, see docs/answers.md).
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from typing import Any

from provdb.answers.recipe import Affected, FileRef, Recipe

__all__ = ["affected_json", "affected_md", "recipe_json", "recipe_md", "recipe_sh"]


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _ref(ref: FileRef, *, inp: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "entity_id": ref.entity_id,
        "location": ref.location,
        "role": ref.role,
        "content_hash": ref.content_hash,
        "content_hash_type": ref.content_hash_type,
    }
    if inp:
        out["raw"] = ref.raw
        out["generated_by"] = ref.generated_by
    return out


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe as plain JSON-able data (the keys documented in docs/answers.md)."""
    return {
        "product": recipe.product,
        "location": recipe.location,
        "raw_inputs": [_ref(r, inp=True) for r in recipe.raw_inputs],
        "steps": [
            {
                "activity_id": s.activity_id,
                "name": s.name,
                "command_line": s.command_line,
                "script": s.script,
                "status": s.status,
                "exit_code": s.exit_code,
                "parameters": s.parameters,
                "config_files": [
                    {
                        "name": c.name,
                        "path": c.path,
                        "hash": c.hash,
                        "hash_type": c.hash_type,
                        "content": c.content,
                    }
                    for c in s.config_files
                ],
                "software": s.software,
                "inputs": [_ref(r, inp=True) for r in s.inputs],
                "outputs": [_ref(r, inp=False) for r in s.outputs],
                "started": _t(s.started),
                "ended": _t(s.ended),
            }
            for s in recipe.steps
        ],
    }


def recipe_json(recipe: Recipe) -> str:
    """JSON text of :func:`recipe_dict` (indented, keys in a stable order)."""
    return json.dumps(recipe_dict(recipe), indent=2) + "\n"


def _hash(ref: FileRef) -> str:
    return f" [{ref.content_hash_type or 'hash'}:{ref.content_hash}]" if ref.content_hash else ""


def recipe_md(recipe: Recipe) -> str:
    """A readable Markdown recipe: one section per step in execution order."""
    lines = [f"# Recipe for {recipe.location or recipe.product}", ""]
    lines.append(f"Product id: `{recipe.product}`; {len(recipe.steps)} step(s).")
    if not recipe.steps:
        lines += ["", "No generation is recorded for this product: it is a raw input."]
    for n, s in enumerate(recipe.steps, 1):
        lines += ["", f"## {n}. {s.name or '(unnamed)'}", "", f"- activity: `{s.activity_id}`"]
        lines.append(f"- started: {_t(s.started) or '-'}, ended: {_t(s.ended) or '-'}")
        if s.status or s.exit_code is not None:
            lines.append(f"- status: {s.status or '-'}, exit code: {s.exit_code}")
        if s.command_line:
            lines += ["", "```", s.command_line, "```"]
        else:
            lines.append(f"- command line: not recorded (script: {s.script or '-'})")
        if s.software:
            lines.append("- software: " + ", ".join(f"{k} {v}" for k, v in s.software.items()))
        for k, v in s.parameters.items():
            lines.append(f"- parameter `{k}` = `{v}`")
        for c in s.config_files:
            lines.append(f"- config `{c.name}`: {c.path or '-'} [{c.hash_type}:{c.hash}]")
        for r in s.inputs:
            raw = " (raw)" if r.raw else ""
            lines.append(f"- input {r.role or '-'}: {r.location or r.entity_id}{_hash(r)}{raw}")
        for r in s.outputs:
            lines.append(f"- output {r.role or '-'}: {r.location or r.entity_id}{_hash(r)}")
    if recipe.raw_inputs:
        lines += ["", "## Raw inputs", ""]
        lines += [f"- {r.location or r.entity_id}{_hash(r)}" for r in recipe.raw_inputs]
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    return " ".join(str(text).split())  # one line: no newline can end the comment early


def recipe_sh(recipe: Recipe) -> str:
    """A bash script that replays the recipe's commands in order.

    The header says provdb never runs it; ``pip install pkg==ver`` lines come from the
    steps' software (deduplicated, packages without a version skipped); steps with no
    recorded command line are comments naming the activity and its script.
    """
    out = [
        "#!/usr/bin/env bash",
        f"# Recipe to regenerate {_comment(recipe.location or recipe.product)}",
        f"# product id: {recipe.product}",
        "# Written by provdb from the provenance archive. provdb never runs this script:",
        "# read it, adapt paths and environment, then run it yourself.",
        "set -euo pipefail",
        "",
    ]
    pins: dict[str, str] = {}
    for s in recipe.steps:
        for pkg, ver in s.software.items():
            if ver and pkg and ver not in ("None", "unknown"):
                pins.setdefault(pkg, ver)
    if pins:
        out.append("# software (first version seen per package)")
        out += [f"pip install {shlex.quote(f'{p}=={v}')}" for p, v in sorted(pins.items())]
        out.append("")
    for n, s in enumerate(recipe.steps, 1):
        out.append(f"# step {n}: {_comment(s.name or '-')} ({_comment(s.activity_id)})")
        if s.status or s.exit_code is not None:
            out.append(f"# recorded status: {_comment(s.status or '-')}, exit code {s.exit_code}")
        for r in s.inputs:
            out.append(f"#   input  {_comment(r.location or r.entity_id)}{_comment(_hash(r))}")
        for r in s.outputs:
            out.append(f"#   output {_comment(r.location or r.entity_id)}{_comment(_hash(r))}")
        if s.command_line and "\n" not in s.command_line:
            out.append(s.command_line)
        else:
            out.append(
                f"# no command line recorded: activity {_comment(s.name or '-')}, "
                f"script {_comment(s.script or '-')}"
            )
        out.append("")
    return "\n".join(out)


def affected_dict(affected: Affected) -> dict[str, Any]:
    """The affected products as JSON-able data: ``source``, ``groups[]``."""
    return {
        "source": affected.source,
        "location": affected.location,
        "count": len(affected.products),
        "groups": [
            {
                "step": step,
                "run": run,
                "products": [{"entity_id": p.entity_id, "location": p.location} for p in ps],
            }
            for (step, run), ps in affected.groups().items()
        ],
    }


def affected_json(affected: Affected) -> str:
    """JSON text of :func:`affected_dict`."""
    return json.dumps(affected_dict(affected), indent=2) + "\n"


def affected_md(affected: Affected) -> str:
    """Markdown list of the affected products, a section per (step, run)."""
    lines = [
        f"# Products affected by {affected.location or affected.source}",
        "",
        f"{len(affected.products)} product(s) must be reprocessed if it changes.",
    ]
    for (step, run), ps in affected.groups().items():
        lines += ["", f"## {step} (run {run})", ""]
        lines += [f"- {p.location or p.entity_id} (`{p.entity_id}`)" for p in ps]
    return "\n".join(lines) + "\n"
