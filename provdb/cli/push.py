"""``provdb token`` (create, list, revoke) and ``provdb push``: the two ends of a push."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, fail, handle_errors, open_archive

__all__ = ["push", "token"]


# ----------------------------------------------------------------------------- token


@click.group(context_settings=CONTEXT_SETTINGS)
def token() -> None:
    """Create, list and revoke the tokens pipelines push logs with (POST /ingest).

    Run these on the archive host (they use the archive's database). The secret is
    printed once by `create`; only its sha256 is stored.

    \b
    Examples:
      provdb token create lst-cluster          # prints provdb_... once: keep it
      provdb token list
      provdb token revoke lst-cluster
    """


@token.command("create", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@options.choice(
    "--scope",
    choices=["ingest", "read"],
    help="What the token allows; ingest: POST /ingest and GET /ingest/status; read: "
    "reading TAP, ProvSAP and the UI when PROVDB_TAP_READ_AUTH=1.",
)
@handle_errors
def token_create(name: str, scope: str) -> None:
    """Create the token NAME and print its secret (shown this once, never stored).

    NAME says who pushes with it (1-64 letters, digits, '.', '_', '-'). Give the secret
    to the pipeline side as an environment variable (provdb push reads PROVDB_TOKEN).

    \b
    Examples:
      provdb token create lst-cluster
      provdb token create lst-cluster > ~/.provdb-token && chmod 600 ~/.provdb-token
      provdb token create alice --scope read   # for PROVDB_TAP_READ_AUTH=1
    """
    from provdb.push.tokens import create_token

    database = open_archive(current=True)
    try:
        with database.engine.begin() as conn:
            secret = create_token(conn, name, scope)
    finally:
        database.dispose()
    click.echo(secret)
    click.echo(
        f"token {name!r} (scope {scope}) created: the line above is its secret, shown only "
        "now; on the pipeline side: export PROVDB_TOKEN=<secret>",
        err=True,
    )


@token.command("list", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@handle_errors
def token_list(as_json: bool) -> None:
    """List the tokens: name, scope, created, last used, revoked (never the secrets).

    \b
    Examples:
      provdb token list
      provdb token list --json
    """
    from provdb.push.tokens import list_tokens

    database = open_archive(current=True)
    try:
        with database.engine.connect() as conn:
            tokens = list_tokens(conn)
    finally:
        database.dispose()

    def when(value: Any) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"

    rows = [
        {
            "name": t.name,
            "scope": t.scope,
            "created": when(t.created),
            "last_used": when(t.last_used),
            "revoked": when(t.revoked),
        }
        for t in tokens
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no tokens: create one with `provdb token create NAME`")
        return
    header = {
        "name": "name",
        "scope": "scope",
        "created": "created (UTC)",
        "last_used": "last used",
        "revoked": "revoked",
    }
    widths = {k: max(len(header[k]), *(len(r[k]) for r in rows)) for k in header}
    for row in [header, *rows]:
        click.echo("  ".join(f"{row[k]:<{widths[k]}}" for k in header).rstrip())


@token.command("revoke", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@handle_errors
def token_revoke(name: str) -> None:
    """Revoke the token NAME: from now on the endpoint refuses it (403).

    The token stays listed (with its revocation time); its name cannot be reused.

    \b
    Examples:
      provdb token revoke lst-cluster
    """
    from provdb.push.tokens import revoke_token

    database = open_archive(current=True)
    try:
        with database.engine.begin() as conn:
            changed = revoke_token(conn, name)
    finally:
        database.dispose()
    click.echo(f"token {name!r} " + ("revoked" if changed else "was already revoked"))


# ----------------------------------------------------------------------------- push


@click.command("push", context_settings=CONTEXT_SETTINGS)
@click.argument("url")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@options.value(
    "--token-env",
    default="PROVDB_TOKEN",
    help="Environment variable holding the token (from `provdb token create`).",
)
@options.formats(
    *options.INGEST_FORMATS,
    help="Format of the files; 'auto': the server detects it from the content.",
)
@options.value("--timezone", default="UTC", help="IANA time zone of lstosa's naive local times.")
@options.whole_number(
    "--chunk-size",
    low=1,
    default=8 * 1024 * 1024,
    help="Bytes per request (the server's limit caps it).",
)
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds per request.")
@click.option("--json", "as_json", is_flag=True, help="Print the server's answers as JSON.")
@options.quiet("Print rejects and errors only.")
@handle_errors
def push(
    url: str,
    files: tuple[str, ...],
    token_env: str,
    fmt: str,
    timezone: str,
    chunk_size: int,
    timeout: float,
    as_json: bool,
    quiet: bool,
) -> None:
    """Push provenance logs to a provdb archive over HTTP (POST /ingest).

    For pipelines that run where the archive's disk is not mounted. URL is the
    service's base URL (`provdb serve` with PROVDB_INGEST_API=1); the token comes from
    the environment variable PROVDB_TOKEN (--token-env). Each FILE is known to the
    server by its absolute path. A file pushed before is continued from the bytes the
    server already holds (a prov.log that grew during the night sends only its new
    part); the server ingests it as `provdb ingest` would and answers the same counts.
    Rejected lines are printed as FILE:LINE: reason.

    \b
    Exit status: 0 all clean; 1 some lines rejected (the rest ingested);
                 2 a file or the push failed (run the same command again to resume).

    \b
    Examples:
      export PROVDB_TOKEN=provdb_...            # from `provdb token create` on the archive
      provdb push http://archive:8080 /fefs/.../20200117/v0.1.0/prov.log
      provdb push https://archive.example.org logs/*.provenance.log --format ctapipe
      provdb push http://archive:8080 prov.log --json | jq .ingest.n_records
    """
    from provdb import settings
    from provdb.push.client import PushClient, PushError, push_file

    # PROVDB_TOKEN's declaration (a secret: never shown) read from the chosen variable
    secret = settings.value("PROVDB_TOKEN", variable=token_env.strip() or "PROVDB_TOKEN")
    if not secret:
        fail(
            f"environment variable {token_env} is empty: set it to a token from "
            "`provdb token create NAME` run on the archive host"
        )
    client = PushClient(url, secret, timeout=timeout)
    code = 0
    answers = []
    for file in files:
        path = Path(file)
        if not path.is_file():
            click.echo(f"provdb: error: {file}: no such file", err=True)
            code = 2
            continue
        try:
            outcome = push_file(
                client,
                path,
                format=None if fmt == "auto" else fmt,
                timezone=timezone,
            )
        except PushError as exc:
            click.echo(f"provdb: error: {file}: {exc}", err=True)
            code = 2
            if exc.fatal:
                break
            continue
        summary = outcome.ingest
        for message in summary.get("rejects", []):
            click.echo(message, err=True)
        if summary.get("rejects_truncated"):
            click.echo(
                f"{outcome.name}: {summary['rejected']:,} lines rejected in all: see "
                "archive.ingest_reject",
                err=True,
            )
        if summary.get("error"):
            click.echo(f"provdb: error: {summary['error']}", err=True)
        for warning in summary.get("warnings", []):
            click.echo(f"warning: {warning}", err=True)
        if summary.get("status") == "failed" or outcome.http_status != 200:
            code = 2
        elif summary.get("rejected"):
            code = max(code, 1)
        answers.append({"file": file, **_outcome_json(outcome)})
        if not as_json and not quiet:
            click.echo(_describe(outcome))
    if as_json:
        click.echo(json.dumps(answers, indent=2))
    sys.exit(code)


def _outcome_json(outcome: Any) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "resumed_from": outcome.resumed_from,
        "sent": outcome.sent,
        "chunks": outcome.chunks,
        "ingest": outcome.ingest,
    }


def _describe(outcome: Any) -> str:
    """One paragraph per file: what was sent, then the counts `provdb ingest` shows."""
    s = outcome.ingest
    sent = (
        f"sent {outcome.sent:,} bytes in {outcome.chunks} chunk(s)"
        + (f", resumed at byte {outcome.resumed_from:,}" if outcome.resumed_from else "")
        if outcome.sent
        else "nothing new to send"
    )
    lines = [f"{outcome.name}: {sent}; ingest: {s.get('status')}"]
    lines.append(
        f"  records read {s.get('n_records', 0):,}, rejected lines {s.get('rejected', 0):,}, "
        f"other lines (diagnostics) {s.get('other_lines', 0):,}"
    )
    if s.get("records"):
        kinds = ", ".join(f"{k} {v:,}" for k, v in s["records"].items())
        lines.append(f"  records by kind: {kinds}")
    inserted, known = s.get("inserted", {}), s.get("known", {})
    for table in sorted(set(inserted) | set(known)):
        lines.append(
            f"  {table}: {inserted.get(table, 0):,} new, {known.get(table, 0):,} already known"
        )
    return "\n".join(lines)
