"""What a request handler needs from the running service, read from ``current_app``.

The Flask tutorial's ``get_db()`` shape: :func:`tap.app.create_app` stores the database
and the settings on the app (:func:`init_app`), and blueprints read them back here, so
no blueprint imports the app factory module (tests/tap/test_layers.py keeps it so) and
``tap/app.py`` only assembles.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from tap.config import TapConfig
from tap.db import TapDatabase

__all__ = ["DB_EXTENSION", "base_url", "init_app", "tap_config", "tap_db"]

#: key of the :class:`TapDatabase` in ``app.extensions``
DB_EXTENSION = "provdb_tap_db"


def init_app(app: Flask, db: TapDatabase, config: TapConfig) -> None:
    """Attach the service's database and settings to ``app`` (called by create_app)."""
    app.config["TAP_CONFIG"] = config
    app.extensions[DB_EXTENSION] = db


def tap_db() -> TapDatabase:
    """The service's database (pooled connections to the archive) of the current app."""
    return current_app.extensions[DB_EXTENSION]


def tap_config() -> TapConfig:
    """The service's validated settings of the current app."""
    return current_app.config["TAP_CONFIG"]


def base_url() -> str:
    """The public TAP base URL: configured, else from this request (absolute)."""
    configured = tap_config().base_url
    if configured:
        return configured.rstrip("/")
    return request.host_url.rstrip("/") + "/tap"
