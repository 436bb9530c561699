"""Decoding one record's payload: the Python ``repr`` of a dict, into the dict.

Fast path: the C JSON scanner after a byte translation that makes every payload JSON
cannot represent identically fail; the rest is read with :func:`ast.literal_eval`, and a
flow mapping that literal_eval rejects with a YAML safe loader (as lstosa's
``provprocess`` does, ``None`` read as null). Errors are ``ValueError`` with a reason
that says where. Also: undoing the run-wise files' YAML round trip (``'None'`` -> null).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import yaml

# Quote -> JSON quote; '"' and '\\' -> NUL, which JSON rejects everywhere, so any payload in
# which the two syntaxes could disagree (escapes, double-quoted strings) fails and falls back.
#: byte translation of a payload for the JSON fast path (see ``_JSON_STR``)
JSON_BYTES = bytes.maketrans(b"'\"\\", b'"\x00\x00')
_JSON_STR = str.maketrans({"'": '"', '"': "\x00", "\\": "\x00"})


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN / Infinity are not Python literals


_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
#: the JSON fast path's decoder (rejects NaN/Infinity, which are not Python literals)
json_raw_decode = _JSON_DECODER.raw_decode

_LITERAL_ERRORS = (SyntaxError, ValueError, TypeError, MemoryError, RecursionError)
#: what the JSON fast path raises on a payload it must leave to the slow path
JSON_ERRORS = (ValueError, UnicodeDecodeError, RecursionError)

_YamlBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ReprYamlLoader(_YamlBase):  # type: ignore[misc, valid-type]
    """Safe YAML loader that also reads Python's ``None`` as null and ``1e-05``/``inf``/``nan``
    as floats (plain ``yaml.safe_load`` gives strings for all of them)."""


_ReprYamlLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^None$"), ["N"])
_ReprYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+|inf|nan)$"),
    list("-+0123456789in"),
)

_LITERAL_NODES = (
    ast.Expression,
    ast.Constant,
    ast.Dict,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Load,
    ast.UnaryOp,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
)


def _excerpt(text: str, column: int | None) -> str:
    """A short quoted piece of ``text`` around 1-based ``column`` for an error message."""
    if column is None or column < 1:
        return ""
    i = column - 1
    piece = text[max(0, i - 15) : i + 25]
    return f" near {piece!r}"


def _describe_literal_error(text: str, exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        msg = exc.msg or "invalid syntax"
        if exc.offset:
            return f"{msg} at column {exc.offset}{_excerpt(text, exc.offset)}"
        return msg
    if isinstance(exc, RecursionError | MemoryError):
        return "nested too deeply"
    if isinstance(exc, ValueError) and str(exc).startswith("malformed node"):
        try:
            tree = ast.parse(text.lstrip(" \t"), mode="eval")
        except _LITERAL_ERRORS:
            return "not a literal expression"
        for node in ast.walk(tree):
            if not isinstance(node, _LITERAL_NODES):
                column = getattr(node, "col_offset", None)
                shown = ast.get_source_segment(text.lstrip(" \t"), node) or type(node).__name__
                if len(shown) > 40:
                    shown = shown[:37] + "..."
                where = f" at column {column + 1}" if column is not None else ""
                return f"non-literal expression {shown!r}{where}"
        return "not a literal expression"
    return str(exc) or type(exc).__name__


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"{problem} at column {mark.column + 1}"
    return str(problem)


def parse_payload_slow(text: str) -> dict[Any, Any]:
    """``ast.literal_eval``, then the YAML fallback; raises ValueError with a reason."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("payload is empty")
    try:
        value = ast.literal_eval(stripped)
    except _LITERAL_ERRORS as exc:
        reason = f"payload is not a Python dict literal: {_describe_literal_error(stripped, exc)}"
        # Only a flow mapping can give a dict; skip the (slow, pure-Python) YAML attempt
        # on anything else, e.g. a truncated line.
        if not (stripped.startswith("{") and stripped.endswith("}")):
            raise ValueError(reason) from None
        try:
            value = yaml.load(stripped, Loader=_ReprYamlLoader)  # a SafeLoader subclass
        except (yaml.YAMLError, RecursionError) as yexc:
            detail = (
                _describe_yaml_error(yexc)
                if isinstance(yexc, yaml.YAMLError)
                else "nested too deeply"
            )
            raise ValueError(f"{reason}; YAML fallback failed too: {detail}") from None
    if not isinstance(value, dict):
        raise ValueError(f"payload is a {type(value).__name__}, not a dict")
    return value


def parse_payload(text: str) -> dict[Any, Any]:
    """Parse one record payload (the Python ``repr`` of a dict).

    The payload is read with :func:`ast.literal_eval` (after a fast JSON shortcut that is
    only taken when it gives exactly the same result); if that fails and the text looks like
    a flow mapping (``{...}``), it is read with a YAML safe loader, as lstosa's own
    ``provprocess`` does, except that the bare word ``None`` is read as null (plain
    ``yaml.safe_load`` would give the string ``'None'``).

    Parameters
    ----------
    text : str
        The payload, e.g. ``"{'activity_id': '9d3257', 'endTime': '...'}"``.

    Returns
    -------
    dict
        The decoded dict, keys and values as written (ids may be ints).

    Raises
    ------
    ValueError
        If the payload is empty, is not a dict, or neither parser can read it; the message
        says why and where (column in the payload), e.g. ``"payload is not a Python dict
        literal: '{' was never closed at column 1 near ...; YAML fallback failed too: ..."``.
    """
    if text[:1] == "{":
        try:
            value, end = json_raw_decode(text.translate(_JSON_STR))
        except JSON_ERRORS:
            pass
        else:
            if end == len(text) and type(value) is dict:
                return value
    return parse_payload_slow(text)


def none_strings_to_none(value: Any) -> Any:
    """Undo lstosa's YAML round trip: the string ``'None'`` becomes ``None`` (recursively)."""
    if type(value) is str:
        return None if value == "None" else value
    if isinstance(value, dict):
        return {k: none_strings_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [none_strings_to_none(v) for v in value]
    return value
