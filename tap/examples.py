"""Blueprint ``/examples``: DALI examples (XHTML + RDFa) from ``example_queries/*.adql``.

Each file starts with ``-- title`` lines (the first one is the name, the others the
description) followed by the query. The same files are shown on the landing page and run by
the tests, so every published example works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from flask import Blueprint, Response

bp = Blueprint("examples", __name__)

EXAMPLES_DIR = Path(__file__).parent / "example_queries"


@dataclass(frozen=True)
class Example:
    id: str
    name: str
    description: str
    query: str
    tables: tuple[str, ...]


@lru_cache(maxsize=1)
def load_examples() -> tuple[Example, ...]:
    out = []
    for path in sorted(EXAMPLES_DIR.glob("*.adql")):
        lines = path.read_text().splitlines()
        head = [ln[2:].strip() for ln in lines if ln.startswith("--")]
        body = "\n".join(ln for ln in lines if not ln.startswith("--")).strip()
        tables = tuple(
            sorted(set(re.findall(r"\b((?:provenance|archive|tap_schema)\.\w+)", body, flags=re.I)))
        )
        slug = re.sub(r"^\d+_", "", path.stem)
        out.append(
            Example(
                id=slug,
                name=head[0] if head else slug,
                description=" ".join(head[1:]),
                query=body,
                tables=tables,
            )
        )
    return tuple(out)


def examples_document(examples: tuple[Example, ...]) -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<html xmlns="http://www.w3.org/1999/xhtml">',
        "<head><title>provdb ProvTAP examples</title></head>",
        '<body vocab="http://www.ivoa.net/rdf/examples#">',
        "<h1>Example queries of the provdb ProvTAP service</h1>",
    ]
    for ex in examples:
        tables = "".join(f'<li><span property="table">{escape(t)}</span></li>' for t in ex.tables)
        parts.append(
            f'<div typeof="example" id="{escape(ex.id)}" resource="#{escape(ex.id)}">'
            f'<h2 property="name">{escape(ex.name)}</h2>'
            f"<p>{escape(ex.description)}</p>"
            f'<pre property="query">{escape(ex.query)}</pre>'
            f"<ul>{tables}</ul></div>"
        )
    parts.append("</body></html>")
    return "".join(parts)


@bp.route("/examples", methods=["GET"])
def examples() -> Response:
    return Response(examples_document(load_examples()), mimetype="application/xhtml+xml")
