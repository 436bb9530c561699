"""UPLOAD by URL cannot reach internal services (SSRF), and every upload is bounded.

Real HTTP servers on loopback play the remote side: an allowed one (via the allow-list),
a forbidden one, a redirect from allowed to forbidden, a slow drip, an oversized one.
"""

from __future__ import annotations

import io
import ipaddress
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy.engine import URL

from tap.config import TapConfig
from tap.errors import UsageError
from tap.query.fetch_url import FetchPolicy, FetchRefused, check_address, fetch_url
from tap.query.upload import load_uploads
from tests.servers import serve_provdb


def _votable(rows: int = 3) -> bytes:
    from astropy.table import Table

    buf = io.BytesIO()
    Table({"n": list(range(rows))}).write(buf, format="votable")
    return buf.getvalue()


VOTABLE = _votable()


class _Handler(BaseHTTPRequestHandler):
    """/table: a VOTable; /redirect?to=URL: a 302; /drip: one byte every 0.3 s for ever;
    /big: 10 kB with Content-Length; /big-chunked: 10 kB without; /missing: 404."""

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        if self.path == "/table":
            self._send(VOTABLE)
        elif self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/drip":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"<")
                    self.wfile.flush()
                    time.sleep(0.3)
            except OSError:
                pass
        elif self.path == "/big":
            self._send(b"x" * 10_000)
        elif self.path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(10):
                self.wfile.write(b"3e8\r\n" + b"x" * 1000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_response(404)
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"internal info")

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-votable+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def remote() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (any port); yields ``http://127.0.0.1:<port>``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


#: trusts exactly 127.0.0.1: 127.0.0.2 (same loopback interface) stays forbidden
TRUSTED = FetchPolicy(
    max_bytes=5000, total_timeout=2.0, allow_networks=(ipaddress.ip_network("127.0.0.1/32"),)
)


# ----------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_internal_addresses_are_refused_and_named(address: str, kind: str) -> None:
    with pytest.raises(FetchRefused, match=rf"a {kind} address .*PROVDB_TAP_UPLOAD_ALLOW"):
        check_address("h.example", ipaddress.ip_address(address), FetchPolicy())


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "193.48.1.1"])
def test_public_addresses_pass(address: str) -> None:
    check_address("h.example", ipaddress.ip_address(address), FetchPolicy())


def test_allow_list_by_host_and_network() -> None:
    policy = FetchPolicy(
        allow_hosts=("mirror.lan", ".corp.lan"),
        allow_networks=(ipaddress.ip_network("10.1.0.0/16"),),
    )
    ten = ipaddress.ip_address("10.9.0.1")
    check_address("mirror.lan", ten, policy)
    check_address("a.corp.lan", ten, policy)
    check_address("x", ipaddress.ip_address("10.1.7.7"), policy)
    with pytest.raises(FetchRefused, match="private"):
        check_address("mirror.lan.evil.org", ten, policy)


def test_bad_allow_list_is_a_config_error() -> None:
    from provdb.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"PROVDB_TAP_UPLOAD_ALLOW=.*'a b' is neither a host name"
    ):
        TapConfig.from_env({"PROVDB_TAP_UPLOAD_ALLOW": "10.0.0.0/8, a b"})
    assert TapConfig.from_env({"PROVDB_TAP_UPLOAD_ALLOW": "10.0.0.0/8, mirror.lan"})


# ----------------------------------------------------------------------------- real fetches


def test_allowed_server_is_fetched(remote: str) -> None:
    assert fetch_url(remote + "/table", TRUSTED) == VOTABLE


def test_loopback_is_forbidden_by_default(remote: str) -> None:
    with pytest.raises(FetchRefused, match=r"127\.0\.0\.1 resolves to a loopback address"):
        fetch_url(remote + "/table", FetchPolicy())
    with pytest.raises(FetchRefused, match=r"localhost resolves to a loopback address"):
        fetch_url(remote.replace("127.0.0.1", "localhost") + "/table", FetchPolicy())


def test_redirect_from_allowed_to_forbidden_is_refused(remote: str) -> None:
    port = remote.rsplit(":", 1)[1]
    forbidden = f"http://127.0.0.2:{port}/table"
    with pytest.raises(FetchRefused, match=r"127\.0\.0\.2 resolves to a loopback"):
        fetch_url(f"{remote}/redirect?to={forbidden}", TRUSTED)
    # to an allowed target the redirect is followed
    assert fetch_url(f"{remote}/redirect?to={remote}/table", TRUSTED) == VOTABLE
    with pytest.raises(FetchRefused, match="only http and https"):
        fetch_url(f"{remote}/redirect?to=file:///etc/passwd", TRUSTED)


def test_redirect_loop_is_bounded(remote: str) -> None:
    loop = f"{remote}/redirect?to={remote}/redirect?to={remote}/table"
    policy = FetchPolicy(max_redirects=1, allow_networks=TRUSTED.allow_networks)
    with pytest.raises(FetchRefused, match="more than 1 redirects"):
        fetch_url(loop, policy)


def test_slow_drip_is_cut_at_the_total_time(remote: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchRefused, match=r"not fetched within 2 s \(PROVDB_TAP_UPLOAD_TIMEOUT\)"):
        fetch_url(remote + "/drip", TRUSTED)
    # not a speed figure: the drip would last 60 s without the deadline
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_oversized_body_is_refused(remote: str, path: str) -> None:
    with pytest.raises(FetchRefused, match="larger than the limit of 5000 bytes"):
        fetch_url(remote + path, TRUSTED)


def test_error_status_does_not_echo_the_body(remote: str) -> None:
    with pytest.raises(FetchRefused, match="answered HTTP 404") as info:
        fetch_url(remote + "/missing", TRUSTED)
    assert "internal info" not in str(info.value)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(FetchRefused, match="only http and https"):
        fetch_url(url, FetchPolicy())


# ----------------------------------------------------------------------------- budgets


def test_url_uploads_can_be_switched_off(remote: str) -> None:
    config = TapConfig(upload_urls=False, upload_allow="127.0.0.1")
    with pytest.raises(UsageError, match=r"PROVDB_TAP_UPLOAD_URLS=0.*param:<part>"):
        load_uploads([("t", remote + "/table")], {}, config)


def test_tables_bytes_and_rows_per_request_are_bounded() -> None:
    files = {"a": VOTABLE, "b": VOTABLE, "c": VOTABLE}
    three = [("a", "param:a"), ("b", "param:b"), ("c", "param:c")]
    with pytest.raises(
        UsageError, match=r"3 UPLOAD tables .* at most 2 \(PROVDB_TAP_UPLOAD_TABLES"
    ):
        load_uploads(three, files, TapConfig(upload_tables=2))
    # the byte budget is for the request: two tables that each fit, together too many
    budget = int(len(VOTABLE) * 1.5)
    with pytest.raises(UsageError, match=rf"{budget} bytes in total \(PROVDB_TAP_UPLOAD_BYTES"):
        load_uploads(three[:2], files, TapConfig(upload_bytes=budget))
    with pytest.raises(UsageError, match=r"5 rows in total \(PROVDB_TAP_UPLOAD_ROWS\)"):
        load_uploads(three[:2], files, TapConfig(upload_rows=5))
    tables, _ = load_uploads(three[:2], files, TapConfig(upload_rows=6))
    assert [list(t.rows) for t in tables] == [[(0,), (1,), (2,)]] * 2


# ----------------------------------------------------------------------------- the service


def _sync_upload(site: str, url: str) -> requests.Response:
    return requests.post(
        site + "/tap/sync",
        data={
            "LANG": "ADQL",
            "RESPONSEFORMAT": "csv",
            "UPLOAD": f"t,{url}",
            "QUERY": "SELECT SUM(n) AS s FROM TAP_UPLOAD.t",
        },
        timeout=60,
    )


def _dali_error(r: requests.Response) -> str:
    root = ET.fromstring(r.content)
    ns = {"v": root.tag.split("}")[0][1:]}
    info = root.find(".//v:INFO[@name='QUERY_STATUS']", ns)
    assert info is not None and info.get("value") == "ERROR", r.text[:500]
    return info.text or ""


def test_service_fetches_allowed_and_refuses_internal(archive_url: URL, remote: str) -> None:
    port = remote.rsplit(":", 1)[1]
    env = {"PROVDB_TAP_UPLOAD_ALLOW": "127.0.0.1/32", "PROVDB_TAP_UPLOAD_TIMEOUT": "2"}
    with serve_provdb(archive_url, env) as served:
        site = served.site
        ok = _sync_upload(site, remote + "/table")
        assert ok.status_code == 200, ok.text[:800]
        assert ok.text.split() == ["s", "3"]

        refused = _sync_upload(site, f"http://127.0.0.2:{port}/table")
        assert refused.status_code == 400
        assert "loopback address" in _dali_error(refused)

        hop = _sync_upload(site, f"{remote}/redirect?to=http://127.0.0.2:{port}/table")
        assert hop.status_code == 400 and "127.0.0.2" in _dali_error(hop)

        slow = _sync_upload(site, remote + "/drip")
        assert slow.status_code == 400
        assert "PROVDB_TAP_UPLOAD_TIMEOUT" in _dali_error(slow)

        caps = requests.get(site + "/tap/capabilities", timeout=30).text
        assert '<uploadLimit><default unit="byte">20000000</default>' in caps


def test_default_service_refuses_loopback_urls(tap_server: str, remote: str) -> None:
    r = _sync_upload(tap_server.removesuffix("/tap"), remote + "/table")
    assert r.status_code == 400
    message = _dali_error(r)
    assert "127.0.0.1 resolves to a loopback address" in message
    assert "PROVDB_TAP_UPLOAD_ALLOW" in message


def test_async_job_reads_its_saved_upload_within_the_budget(tap_server: str) -> None:
    r = requests.post(
        tap_server + "/async",
        data={
            "LANG": "ADQL",
            "RESPONSEFORMAT": "csv",
            "UPLOAD": "t,param:part",
            "QUERY": "SELECT SUM(n) AS s FROM TAP_UPLOAD.t",
            "PHASE": "RUN",
        },
        files={"part": ("t.xml", _votable(5))},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303
    job = r.headers["Location"]
    try:
        deadline = time.monotonic() + 60
        while (phase := requests.get(job + "/phase", timeout=30).text) not in (
            "COMPLETED",
            "ERROR",
        ):
            assert time.monotonic() < deadline, phase
            time.sleep(0.2)
        assert phase == "COMPLETED", requests.get(job + "/error", timeout=30).text
        assert requests.get(job + "/results/result", timeout=30).text.split() == ["s", "10"]
    finally:
        requests.delete(job, timeout=30)
