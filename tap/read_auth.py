"""Optional authentication for reading (``PROVDB_TAP_READ_AUTH=1``).

Some archives must keep the provenance of proprietary data private. With the setting
on, every read endpoint (TAP, ProvSAP, the UI, ``/tap/tables``, ``/tap/examples``)
needs ``Authorization: Bearer <token>`` with a token of scope ``read`` from the same
store as the push ingest (``provdb token create NAME --scope read``). Missing or
unknown tokens get 401 with ``WWW-Authenticate: Bearer``; revoked or wrong-scope ones
403. VOSI availability and capabilities stay open, so that clients can find out that
(and how) they must authenticate: the capabilities declare the IVOA SSO
``ivo://ivoa.net/sso#token`` security method on the protected interfaces.

With the setting off (the default) a request may still carry a valid read token: it
then acts under the token's identity (its jobs are its own, see tap/clients.py).
The identity is kept in ``flask.g.provdb_token_name``.
"""

from __future__ import annotations

from typing import ClassVar

from flask import Flask, current_app, g, request

from provdb.push.tokens import authenticate
from tap.errors import TapError

__all__ = ["OPEN_PATHS", "SECURITY_METHOD", "install"]

#: the IVOA SSO standardID of bearer tokens, declared on protected interfaces
SECURITY_METHOD = "ivo://ivoa.net/sso#token"

#: reachable without a token even when reading needs one (``/ingest`` has its own tokens)
OPEN_PATHS = ("/tap/availability", "/tap/capabilities", "/ingest", "/metrics")


class AuthError(TapError):
    """401 (no or unknown token) or 403 (revoked, other scope), as a DALI error."""

    status = 401
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="provdb"'}


def _secret() -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def _check() -> None:
    required = current_app.config["TAP_CONFIG"].read_auth
    path = request.path
    if path.startswith(OPEN_PATHS) or path == "/":
        return
    secret = _secret()
    if secret is None:
        if required:
            raise AuthError(
                "this archive needs a token to read: send 'Authorization: Bearer <token>' "
                "with a token from `provdb token create NAME --scope read`"
            )
        return
    engine = current_app.extensions["provdb_tap_db"].engine
    with engine.begin() as conn:
        auth = authenticate(conn, secret, "read")
    if auth.outcome == "ok":
        g.provdb_token_name = auth.name
        return
    # a bad token is refused even where anonymous reading is allowed: it must not
    # silently pass for "anonymous" when the client meant an identity
    if auth.outcome == "unknown":
        raise AuthError("unknown token: check it, or create one with `provdb token create`")
    if auth.outcome == "revoked":
        raise AuthError(f"token {auth.name!r} was revoked: create a new one", status=403)
    raise AuthError(
        f"token {auth.name!r} has scope {auth.scope!r}, not 'read': create one with "
        "`provdb token create NAME --scope read`",
        status=403,
    )


def install(app: Flask) -> None:
    """Check tokens before every request of ``app`` (before the blueprints' own hooks)."""
    app.before_request(_check)
