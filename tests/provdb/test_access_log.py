"""provdb/access_log.py writes the access log line gunicorn's own logger writes."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from provdb.access_log import AccessLogger

TIME = re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")


def _environ(**extra: str) -> dict[str, str]:
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/tap/sync?x=1",
        "PATH_INFO": "/tap/sync",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_HOST": "127.0.0.1:8080",
    }
    environ.update(extra)
    return environ


def _write(cls: type[Logger], log: Path, resp: object, environ: dict, fmt: str | None) -> str:
    cfg = Config()
    cfg.set("accesslog", str(log))
    if fmt is not None:
        cfg.set("access_log_format", fmt)
    logger = cls(cfg)
    request = SimpleNamespace(headers=[("HOST", "127.0.0.1:8080"), ("USER-AGENT", "x")])
    logger.access(resp, request, environ, timedelta(microseconds=1500))
    for handler in list(logger.access_log.handlers):
        handler.close()
        logger.access_log.removeHandler(handler)
    return TIME.sub("[T]", log.read_text())


CASES = {
    "plain": (SimpleNamespace(status="200 OK", sent=4100, headers=[]), _environ()),
    "quotes and referer": (
        SimpleNamespace(status="429 Too Many Requests", sent=0, headers=[]),
        _environ(HTTP_USER_AGENT='pyvo "1.5"', HTTP_REFERER='http://h/"x"'),
    ),
    "basic user, nothing sent": (
        SimpleNamespace(status=404, sent=None, headers=[("Content-Type", "text/xml")]),
        _environ(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"ann:pw").decode()),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_same_line_as_gunicorn(case: str, tmp_path: Path) -> None:
    resp, environ = CASES[case]
    ours = _write(AccessLogger, tmp_path / "ours.log", resp, environ, None)
    theirs = _write(Logger, tmp_path / "theirs.log", resp, environ, None)
    assert ours == theirs
    assert ours.count("\n") == 1


def test_another_format_goes_to_gunicorn(tmp_path: Path) -> None:
    resp, environ = CASES["plain"]
    fmt = '%(h)s "%(r)s" %(s)s %(D)s %({host}i)s'
    ours = _write(AccessLogger, tmp_path / "ours.log", resp, environ, fmt)
    theirs = _write(Logger, tmp_path / "theirs.log", resp, environ, fmt)
    assert ours == theirs == '192.0.2.7 "POST /tap/sync?x=1 HTTP/1.1" 200 1500 127.0.0.1:8080\n'
