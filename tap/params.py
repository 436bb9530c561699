"""DALI/TAP request parameters: names case-insensitive, unknown ones ignored.

TAP parameters may come in the query string (GET), a urlencoded body or a multipart
body (POST, where UPLOAD files also arrive). Single-valued parameters given twice are
an error (DALI); UPLOAD accumulates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tap.errors import UsageError

__all__ = ["SINGLE_VALUED", "TapParams", "collect"]

SINGLE_VALUED = (
    "LANG",
    "QUERY",
    "RESPONSEFORMAT",
    "FORMAT",
    "MAXREC",
    "RUNID",
    "REQUEST",
    "VERSION",
    "PHASE",
    "EXECUTIONDURATION",
    "DESTRUCTION",
)
KNOWN = (*SINGLE_VALUED, "UPLOAD")


@dataclass
class TapParams:
    """The TAP parameters of a request (upper-case names)."""

    values: dict[str, str] = field(default_factory=dict)
    uploads: list[tuple[str, str]] = field(default_factory=list)  # (table name, URI)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name.upper(), default)

    def update(self, other: TapParams) -> None:
        """Merge parameters POSTed later (UWS /parameters): replace single, add uploads."""
        self.values.update(other.values)
        self.uploads.extend(other.uploads)

    def as_list(self) -> list[tuple[str, str]]:
        out = list(self.values.items())
        out.extend(("UPLOAD", f"{n},{u}") for n, u in self.uploads)
        return out


def _parse_upload(value: str) -> list[tuple[str, str]]:
    out = []
    # taplint sends several uploads in one value separated by ';'
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, uri = part.partition(",")
        if not sep or not name or not uri:
            raise UsageError(f"UPLOAD {part!r} is not of the form 'tablename,URI'")
        out.append((name.strip(), uri.strip()))
    return out


def collect(items: Iterable[tuple[str, str]]) -> TapParams:
    """Collect TAP parameters from (name, value) pairs, case-insensitively."""
    params = TapParams()
    for name, value in items:
        key = name.upper()
        if key not in KNOWN:
            continue  # DALI: unknown parameters are ignored
        if key == "UPLOAD":
            params.uploads.extend(_parse_upload(value))
            continue
        if key in params.values and params.values[key] != value:
            raise UsageError(f"parameter {key} given more than once")
        params.values[key] = value
    return params
