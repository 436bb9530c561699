"""The access log of ``provdb serve``: gunicorn's line, without gunicorn's atom table.

gunicorn formats each access log line from a table of every "atom" a format could
name: the request's headers, the response's headers and the whole WSGI environ, each
lowercased and quote-escaped (~250 Python calls per request). ``provdb serve`` uses
gunicorn's default format, which names nine of them; :class:`AccessLogger` writes
that same line from those nine (a one-row ``/tap/sync`` query spends less CPU in
Python than that table cost). Any other format goes to gunicorn's own code.
"""

from __future__ import annotations

from typing import Any

from gunicorn.config import AccessLogFormat
from gunicorn.glogging import Logger

__all__ = ["AccessLogger"]

#: the format the fast path writes (gunicorn's default, the Apache "combined" log)
DEFAULT_FORMAT = AccessLogFormat.default


def _quoted(value: Any) -> Any:
    # gunicorn's SafeAtoms: a double quote inside a text field is escaped
    return value.replace('"', '\\"') if isinstance(value, str) else value


class AccessLogger(Logger):
    """gunicorn's :class:`~gunicorn.glogging.Logger` whose ``access`` writes the default
    format's line itself (byte for byte the line gunicorn writes)."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        if self.cfg.access_log_format != DEFAULT_FORMAT:
            super().access(resp, req, environ, request_time)
            return
        try:
            self.access_log.info(combined_line(self, resp, environ))
        except Exception:  # as gunicorn does: a log line never fails a request
            import traceback

            self.error(traceback.format_exc())


def combined_line(logger: Logger, resp: Any, environ: dict[str, Any]) -> str:
    """The line gunicorn's default ``access_log_format`` gives for this request."""
    status = resp.status
    if isinstance(status, str):
        status = _quoted(status.split(None, 1)[0])
    sent = getattr(resp, "sent", None)
    request_line = f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"
    host = _quoted(environ.get("REMOTE_ADDR", "-"))
    user = _quoted(logger._get_user(environ) or "-")
    when = _quoted(logger.now())
    size = _quoted(str(sent)) if sent is not None else "-"
    referer = _quoted(environ.get("HTTP_REFERER", "-"))
    agent = _quoted(environ.get("HTTP_USER_AGENT", "-"))
    return f'{host} - {user} {when} "{_quoted(request_line)}" {status} {size} "{referer}" "{agent}"'
