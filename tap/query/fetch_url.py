"""Fetch an UPLOAD given by URL without letting clients reach internal services (SSRF).

A TAP client names a URL and the *server* fetches it, so a careless fetch lets anyone
read services that only the server can reach: loopback, the private network, cloud
metadata at 169.254.169.254. :func:`fetch_url` therefore

* accepts http and https only;
* resolves the host once, refuses loopback, private, link-local, multicast,
  unspecified and reserved addresses (IPv4 and IPv6, IPv4-mapped IPv6 included) unless
  the host or address is on the operator's allow-list, and connects to the very address
  it checked (no second DNS lookup between check and connect);
* follows redirects itself, checking every hop the same way;
* bounds the connect time, the time of the whole fetch (a hard deadline: a server
  drip-feeding one byte at a time cannot hold the request) and the size.

Errors (:class:`FetchRefused`) name the rule that was applied and never echo the remote
server's response, so the error text cannot be used to read an internal service either.
Pure: no Flask, no database.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from provdb.settings.types import parse_allow_list

__all__ = ["FetchPolicy", "FetchRefused", "check_address", "fetch_url", "parse_allow_list"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchRefused(Exception):
    """The URL may not be fetched, or the fetch broke a limit; the message names the rule."""


@dataclass(frozen=True)
class FetchPolicy:
    """Where and how much a URL fetch may read.

    ``allow_hosts`` are host names (``data.example.org``; a leading dot, ``.example.org``,
    allows every subdomain) and ``allow_networks`` address ranges that are trusted even
    though they are internal (a mirror on the private network, a test server on
    loopback). Public addresses need no entry.
    """

    max_bytes: int = 20_000_000
    connect_timeout: float = 10.0
    total_timeout: float = 30.0
    max_redirects: int = 5
    allow_hosts: tuple[str, ...] = ()
    allow_networks: tuple[Network, ...] = field(default_factory=tuple)


def _host_allowed(host: str, policy: FetchPolicy) -> bool:
    host = host.lower().rstrip(".")
    for entry in policy.allow_hosts:
        if entry.startswith("."):
            if host.endswith(entry) or host == entry[1:]:
                return True
        elif host == entry:
            return True
    return False


def _forbidden_kind(ip: Address) -> str | None:
    """Why ``ip`` is internal ("loopback", "private"...), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 and friends reach the IPv4 address: judge that address
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return _forbidden_kind(mapped)
        if ip.teredo is not None:
            return "reserved (Teredo)"
    for kind, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return kind
    if not ip.is_global:  # shared address space 100.64/10, documentation ranges ...
        return "not globally routable"
    return None


def check_address(host: str, ip: Address, policy: FetchPolicy) -> None:
    """Refuse ``ip`` (an address of ``host``) if it is internal and not allow-listed."""
    kind = _forbidden_kind(ip)
    if kind is None:
        return
    if _host_allowed(host, policy) or any(ip in net for net in policy.allow_networks):
        return
    raise FetchRefused(
        f"UPLOAD host {host} resolves to a {kind} address ({ip}); this service does not "
        "fetch from internal addresses (an operator can allow trusted hosts with "
        "PROVDB_TAP_UPLOAD_ALLOW)"
    )


def _resolve(host: str, port: int, policy: FetchPolicy) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchRefused(f"UPLOAD host {host} cannot be resolved") from None
    addresses: list[Address] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        check_address(host, ip, policy)  # every address: DNS may hand out any of them
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise FetchRefused(f"UPLOAD host {host} cannot be resolved")
    return addresses


class _Deadline:
    """Closes the socket when the total time is up: a hard bound on every read."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sock: socket.socket | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        self.cancel()
        self._sock = sock
        self._timer = threading.Timer(max(self.remaining(), 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _connect(
    scheme: str, host: str, port: int, addresses: Sequence[Address], policy: FetchPolicy
) -> socket.socket:
    last: OSError | None = None
    for ip in addresses:
        try:
            sock = socket.create_connection((str(ip), port), timeout=policy.connect_timeout)
        except OSError as exc:
            last = exc
            continue
        if scheme == "https":
            context = ssl.create_default_context()
            try:
                sock = context.wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                why = exc.__class__.__name__
                raise FetchRefused(f"UPLOAD host {host}: TLS failed ({why})") from None
        return sock
    kind = "timed out" if isinstance(last, TimeoutError | socket.timeout) else "refused"
    raise FetchRefused(f"UPLOAD host {host} port {port}: connection {kind}")


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP connection over a socket that was opened to a checked address."""

    def __init__(self, host: str, port: int, sock: socket.socket, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.sock = sock

    def connect(self) -> None:  # the socket is already open; never resolve again
        raise FetchRefused("UPLOAD connection was closed unexpectedly")


def _read_body(resp: http.client.HTTPResponse, url: str, policy: FetchPolicy) -> bytes:
    length = resp.getheader("Content-Length")
    if length and length.strip().isdigit() and int(length) > policy.max_bytes:
        raise FetchRefused(
            f"UPLOAD {url} is larger than the limit of {policy.max_bytes} bytes "
            "(PROVDB_TAP_UPLOAD_BYTES)"
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = resp.read1(65536)  # one read at a time: the deadline check stays near
        if not chunk:
            break
        size += len(chunk)
        if size > policy.max_bytes:
            raise FetchRefused(
                f"UPLOAD {url} is larger than the limit of {policy.max_bytes} bytes "
                "(PROVDB_TAP_UPLOAD_BYTES)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_url(url: str, policy: FetchPolicy) -> bytes:
    """The body of ``url``, fetched under ``policy``.

    Raises
    ------
    FetchRefused
        Not http(s), an internal address, too many redirects, an HTTP error status, a
        time or size limit: the message says which rule, never what the remote said.
    """
    deadline = _Deadline(policy.total_timeout)
    current = url
    try:
        for _hop in range(policy.max_redirects + 1):
            parts = urlsplit(current)
            scheme = parts.scheme.lower()
            if scheme not in ("http", "https"):
                raise FetchRefused(f"UPLOAD URL {current!r}: only http and https URLs are fetched")
            host = parts.hostname
            if not host:
                raise FetchRefused(f"UPLOAD URL {current!r} has no host")
            try:
                port = parts.port or (443 if scheme == "https" else 80)
            except ValueError:
                raise FetchRefused(f"UPLOAD URL {current!r} has an invalid port") from None
            addresses = _resolve(host, port, policy)
            if deadline.remaining() <= 0:
                break
            sock = _connect(scheme, host, port, addresses, policy)
            deadline.watch(sock)
            conn = _PinnedConnection(host, port, sock, policy.connect_timeout)
            try:
                path = parts.path or "/"
                if parts.query:
                    path += "?" + parts.query
                conn.request("GET", path, headers={"User-Agent": "provdb-tap-upload"})
                resp = conn.getresponse()
                if resp.status in (301, 302, 303, 307, 308):
                    location = resp.getheader("Location")
                    if not location:
                        raise FetchRefused(f"UPLOAD {current}: redirect without a Location")
                    current = urljoin(current, location)
                    continue
                if resp.status != 200:
                    raise FetchRefused(f"UPLOAD {current}: the server answered HTTP {resp.status}")
                body = _read_body(resp, url, policy)
                if deadline.expired:  # the shutdown socket looked like the end of the data
                    raise FetchRefused(_too_slow(url, policy))
                return body
            finally:
                conn.close()
        else:
            raise FetchRefused(
                f"UPLOAD {url}: more than {policy.max_redirects} redirects; not followed"
            )
    except FetchRefused:
        if deadline.expired:
            raise FetchRefused(_too_slow(url, policy)) from None
        raise
    except (OSError, http.client.HTTPException) as exc:
        if deadline.expired or isinstance(exc, TimeoutError | socket.timeout):
            raise FetchRefused(_too_slow(url, policy)) from None
        raise FetchRefused(
            f"UPLOAD {url}: the transfer failed ({exc.__class__.__name__})"
        ) from None
    finally:
        deadline.cancel()
    raise FetchRefused(_too_slow(url, policy))


def _too_slow(url: str, policy: FetchPolicy) -> str:
    return (
        f"UPLOAD {url} was not fetched within {policy.total_timeout:g} s "
        "(PROVDB_TAP_UPLOAD_TIMEOUT)"
    )
