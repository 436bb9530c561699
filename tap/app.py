"""Flask application factory of the provdb TAP / ProvSAP service.

``create_app()`` is what gunicorn, ``provdb serve`` and the tests call; nothing is
bound at import time. The TAP base URL is ``/tap``. This module only assembles: the
blueprints read the database and settings through :mod:`tap.context`.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest, HTTPException, SecurityError

from provdb import __version__
from provdb.config import Settings
from tap.config import TapConfig
from tap.context import init_app
from tap.db import TapDatabase
from tap.errors import TapError

__all__ = ["SERVER_HEADER", "create_app"]

SERVER_HEADER = f"provdb/{__version__} (ProvTAP; Python/Flask)"

log = logging.getLogger("provdb.tap")

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def create_app(
    settings: Settings | None = None,
    config: TapConfig | None = None,
    *,
    start_workers: bool = True,
    database: Any | None = None,
) -> Flask:
    """Build the service.

    Parameters
    ----------
    settings:
        Which database (default: from the environment, embedded server if no URL).
    config:
        Service limits (default: :meth:`TapConfig.from_env`).
    start_workers:
        Start the async job workers and the destruction reaper in this process.
    database:
        An already open :class:`provdb.db.Database` (tests).
    """
    from provdb.db import connect

    settings = settings or Settings.from_env()
    config = config or TapConfig.from_env()
    app = Flask(__name__)
    # absolute URLs (UWS Location, VOSI capabilities, UI links) come from the request's
    # Host when no base URL is set: refuse (400) Host headers the service is not for
    app.config["TRUSTED_HOSTS"] = config.trusted_hosts()
    app.config["PROVDB_SETTINGS"] = settings
    # the UI and ProvSAP read these keys (tests may override them after create_app)
    app.config["PROVSAP_NODE_LIMIT"] = config.provsap_node_limit
    app.config["PROVSAP_UI_URL"] = config.ui_url_pattern
    app.config["PROVDB_UI_GRAPH_LIMIT"] = config.ui_graph_limit
    app.config["PROVDB_UI_MAX_ROWS"] = config.ui_max_rows
    app.config["PROVDB_UI_INGEST_PAGE"] = config.ui_ingest_page
    app.config["UP_SINCE"] = datetime.now(UTC)
    router = None
    if config.read_urls:
        from tap.replicas import ReadRouter

        router = ReadRouter(
            config.read_urls, retry_s=config.read_retry, max_lag_s=config.read_max_lag
        )
    init_app(app, TapDatabase(database or connect(settings), router=router), config)
    if config.binary2_copy:
        from tap.votable.binary2_copy import available

        if not available():
            # pip hides the build hook's warning: say it where an operator looks
            log.warning(
                "the compiled BINARY2 transcoder (tap/votable/_binary2copy.c) is not built: "
                "large VOTable results are written in SQL, about half as fast; install a C "
                "compiler and reinstall provdb to build it"
            )

    from tap.read_auth import install as install_read_auth

    install_read_auth(app)  # tokens first: the blueprints' hooks see the identity

    from tap.datalink import bp as datalink_bp
    from tap.examples import bp as examples_bp
    from tap.provsap import bp as provsap_bp
    from tap.sync import bp as sync_bp
    from tap.ui import bp as ui_bp
    from tap.uws.routes import bp as async_bp
    from tap.vosi.routes import bp as vosi_bp

    app.register_blueprint(vosi_bp, url_prefix="/tap")
    app.register_blueprint(sync_bp, url_prefix="/tap")
    app.register_blueprint(async_bp, url_prefix="/tap")
    app.register_blueprint(examples_bp, url_prefix="/tap")
    app.register_blueprint(provsap_bp, url_prefix="/tap")
    app.register_blueprint(ui_bp, url_prefix="/ui")
    app.register_blueprint(datalink_bp)
    if config.ingest_api:  # push from pipelines: off unless PROVDB_INGEST_API=1
        from tap.ingest_api import bp as ingest_bp

        app.register_blueprint(ingest_bp)

    @app.after_request
    def _server_header(response: Response) -> Response:
        # under gunicorn, provdb.serve names provdb in gunicorn's own Server header
        if not request.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
            response.headers["Server"] = SERVER_HEADER
        return response

    @app.errorhandler(TapError)
    def _tap_error(exc: TapError) -> Response:
        from tap.votable import error_document

        response = Response(
            error_document(exc.message), status=exc.status, mimetype="application/x-votable+xml"
        )
        retry = getattr(exc, "retry_after", None)
        if retry:
            response.headers["Retry-After"] = str(retry)
        response.headers.update(getattr(exc, "headers", None) or {})
        return response

    @app.before_request
    def _refuse_nul() -> None:
        # PostgreSQL text cannot hold NUL: a %00 reaching a query was an HTTP 500
        values = [request.path, *request.args.keys(), *request.args.values()]
        if request.mimetype in FORM_TYPES and not request.path.startswith("/ingest"):
            values += [*request.form.keys(), *request.form.values()]
        if any("\x00" in v for v in values):
            raise BadRequest("a NUL character (%00) is not allowed in a path or parameter")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        # unknown paths and methods (404, 405...) under /tap answer as DALI says, with
        # an error VOTable; /ingest answers JSON like its own errors; the rest (the UI)
        # keeps Flask's page
        path = request.path
        if path == "/tap" or path.startswith("/tap/"):
            from tap.votable import error_document

            response = Response(
                error_document(f"{exc.name}: {exc.description}"),
                status=exc.code or 400,
                mimetype="application/x-votable+xml",
            )
        elif config.ingest_api and (path == "/ingest" or path.startswith("/ingest/")):
            # only when the endpoint exists: `provdb push` tells a missing one by its 404
            response = Response(
                json.dumps({"error": f"{exc.name}: {exc.description}"}),
                status=exc.code or 400,
                mimetype="application/json",
            )
        else:
            return exc.get_response()
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    def _database_down(exc: Exception) -> Response:
        # the database stopped or restarted: 503 and Retry-After, never a 500; the
        # pools discard dead connections, so the next request after it is back works
        log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)
        message = "the archive database is not reachable just now; try again in a few seconds"
        if request.path.startswith("/ui"):
            body, mime = (
                f"<!DOCTYPE html><title>503</title><h1>Unavailable</h1><p>{message}</p>",
                "text/html",
            )
        elif request.path.startswith("/ingest"):
            body, mime = json.dumps({"error": message}), "application/json"
        else:
            from tap.votable import error_document

            body, mime = error_document(message), "application/x-votable+xml"
        return Response(body, status=503, mimetype=mime, headers={"Retry-After": "5"})

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(psycopg.OperationalError)
    def _database_down(exc: Exception) -> Response:
        from tap.votable import error_document

        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        log.warning("database unreachable: %s", detail[0] if detail else type(exc).__name__)
        if settings.embedded:
            _restart_embedded(settings)
        return Response(
            error_document(
                "the archive database is not reachable"
                + (" (the embedded server is being restarted)" if settings.embedded else "")
                + ": retry in a few seconds"
            ),
            status=503,
            headers={"Retry-After": "5"},
            mimetype="application/x-votable+xml",
        )

    @app.errorhandler(SecurityError)
    def _untrusted_host(exc: SecurityError) -> Response:
        from tap.votable import error_document

        # the Host is not echoed: a response must not carry what a client made up
        message = (
            "this service does not answer for the host named in the request's Host "
            "header: use its configured address, or add the name to "
            "PROVDB_TAP_ALLOWED_HOSTS"
        )
        return Response(error_document(message), status=400, mimetype="application/x-votable+xml")

    @app.route("/")
    def _root() -> Response:
        from flask import redirect

        return redirect(f"{request.script_root}/ui/", code=302)

    if config.metrics:
        from tap.metrics import init_metrics

        init_metrics(app)

    if start_workers:
        from tap.uws.runner import start_workers as _start

        _start(app)
    return app


_RESTART_LOCK = threading.Lock()


def _restart_embedded(settings: Settings) -> None:
    """Start the embedded server again in the background (one attempt at a time): a
    request that found it down gets its 503 at once, the next ones find it running."""
    if not _RESTART_LOCK.acquire(blocking=False):
        return

    def restart() -> None:
        try:
            from provdb.db import ensure_embedded_running

            ensure_embedded_running(settings.pgdata)
            log.warning("embedded PostgreSQL restarted")
        except Exception as exc:  # reported; the next failing request tries again
            log.error("could not restart the embedded PostgreSQL: %s", exc)
        finally:
            _RESTART_LOCK.release()

    threading.Thread(target=restart, name="provdb-pg-restart", daemon=True).start()
