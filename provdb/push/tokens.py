"""Ingest tokens: create (the secret is shown once), list, revoke, and check a presented one.

Secrets are ``provdb_`` + 43 URL-safe characters from :func:`secrets.token_urlsafe`
(256 random bits). Only their sha256 is stored: a plain, unsalted hash is enough for
such high-entropy random strings (no dictionary or brute force can invert it; salting
and slow hashes such as bcrypt protect low-entropy passwords, which these are not), and
it lets a presented token be found by its hash in one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from provdb.errors import ProvdbError

__all__ = [
    "PREFIX",
    "SCOPES",
    "Authentication",
    "TokenError",
    "TokenInfo",
    "authenticate",
    "create_token",
    "hash_secret",
    "list_tokens",
    "revoke_token",
]

#: Recognisable start of every secret (secret scanners and people can spot one).
PREFIX = "provdb_"
#: Scopes a token may have; ``ingest`` allows ``POST /ingest`` and ``GET /ingest/status``.
SCOPES = ("ingest", "read")

# token names become folder names of the spool: keep them to safe characters
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TokenError(ProvdbError):
    """A token command cannot do what was asked (unknown name, name taken, bad name)."""


@dataclass(frozen=True)
class TokenInfo:
    """One token as ``provdb token list`` shows it (never its secret)."""

    name: str
    scope: str
    created: datetime
    last_used: datetime | None
    revoked: datetime | None


def hash_secret(secret: str) -> str:
    """The stored form of a secret: sha256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(conn: sa.Connection, name: str, scope: str = "ingest") -> str:
    """Create a token and return its secret (the only time it is available).

    Raises
    ------
    TokenError
        The name is not allowed or already taken, or the scope is unknown.
    """
    if not _NAME.match(name):
        raise TokenError(
            f"token name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. lst-cluster)"
        )
    if scope not in SCOPES:
        raise TokenError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
    taken = conn.execute(
        sa.text("SELECT revoked IS NOT NULL FROM archive.api_token WHERE name = :n"), {"n": name}
    ).first()
    if taken is not None:
        state = "a revoked token" if taken[0] else "a token"
        raise TokenError(
            f"{state} named {name!r} exists: choose another name (see `provdb token list`)"
        )
    secret = PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        sa.text("INSERT INTO archive.api_token (name, scope, secret_sha256) VALUES (:n, :s, :h)"),
        {"n": name, "s": scope, "h": hash_secret(secret)},
    )
    return secret


def list_tokens(conn: sa.Connection) -> list[TokenInfo]:
    """Every token, oldest first."""
    rows = conn.execute(
        sa.text(
            "SELECT name, scope, created, last_used, revoked FROM archive.api_token "
            "ORDER BY created, id"
        )
    ).all()
    return [TokenInfo(*row) for row in rows]


def revoke_token(conn: sa.Connection, name: str) -> bool:
    """Revoke the token ``name``; ``False`` if it was revoked already.

    Raises
    ------
    TokenError
        No token has this name.
    """
    row = conn.execute(
        sa.text("SELECT revoked FROM archive.api_token WHERE name = :n FOR UPDATE"), {"n": name}
    ).first()
    if row is None:
        raise TokenError(f"no token named {name!r}: see `provdb token list`")
    if row[0] is not None:
        return False
    conn.execute(
        sa.text(
            "UPDATE archive.api_token SET revoked = (now() at time zone 'utc') WHERE name = :n"
        ),
        {"n": name},
    )
    return True


@dataclass(frozen=True)
class Authentication:
    """The outcome of checking a presented secret."""

    #: ``ok``, ``unknown`` (401), ``revoked`` or ``scope`` (403)
    outcome: str
    name: str | None = None
    scope: str | None = None


def authenticate(conn: sa.Connection, secret: str, scope: str = "ingest") -> Authentication:
    """Check a presented secret for ``scope``; on success record its use (``last_used``).

    The lookup is by the secret's hash, so the database never compares secrets; the
    stored and presented hashes are then compared with :func:`hmac.compare_digest`, in
    constant time.
    """
    presented = hash_secret(secret)
    row = conn.execute(
        sa.text(
            "SELECT id, name, scope, secret_sha256, revoked FROM archive.api_token "
            "WHERE secret_sha256 = :h"
        ),
        {"h": presented},
    ).first()
    if row is None or not hmac.compare_digest(row.secret_sha256, presented):
        return Authentication("unknown")
    if row.revoked is not None:
        return Authentication("revoked", row.name, row.scope)
    if row.scope != scope:
        return Authentication("scope", row.name, row.scope)
    conn.execute(
        sa.text(
            "UPDATE archive.api_token SET last_used = (now() at time zone 'utc') WHERE id = :i"
        ),
        {"i": row.id},
    )
    return Authentication("ok", row.name, row.scope)
