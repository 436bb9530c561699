"""TapConfig: limits and public URL of the TAP service.

Environment variables (all optional)
------------------------------------
PROVDB_TAP_BASE_URL         public base URL, e.g. https://archive.example.org/tap
                            (default: taken from each request's Host header, which must
                            then be one of PROVDB_TAP_ALLOWED_HOSTS)
PROVDB_TAP_ALLOWED_HOSTS    host names requests may be addressed to, comma-separated
                            (".example.org" allows its subdomains; "*" any). Default:
                            localhost, 127.0.0.1, ::1, this machine's names, the host
                            `provdb serve --host` binds and the base URL's host. Other
                            Host headers get HTTP 400: they never end up in URLs.
PROVDB_TAP_WORKER_TIMEOUT   gunicorn worker timeout (s), default 60: a worker process
                            whose main loop stops answering is restarted (gthread
                            workers beat between requests: long streams are not cut)
PROVDB_TAP_MAXREC           default MAXREC (rows), default 100000
PROVDB_TAP_MAXREC_HARD      hard row limit, default 10000000
PROVDB_TAP_EXECUTION        default execution duration of async jobs (s), default 600
PROVDB_TAP_EXECUTION_HARD   hard execution duration (s), default 3600
PROVDB_TAP_RETENTION        default job retention (s), default 172800 (2 days)
PROVDB_TAP_RETENTION_HARD   hard job retention (s), default 604800 (7 days)
PROVDB_TAP_UPLOAD_BYTES     bytes of all uploads of one request together, default 20000000
PROVDB_TAP_UPLOAD_ROWS      rows of all uploads of one request together, default 1000000
PROVDB_TAP_UPLOAD_TABLES    uploaded tables in one request, default 8
PROVDB_TAP_UPLOAD_URLS      1 (default): UPLOAD may name an http(s) URL; 0: inline only
PROVDB_TAP_UPLOAD_ALLOW     trusted internal hosts/networks an UPLOAD URL may reach, comma-
                            separated (``mirror.lan, .example.lan, 10.1.0.0/16, ::1``);
                            internal addresses (loopback, private, link-local...) are
                            refused unless listed here
PROVDB_TAP_UPLOAD_TIMEOUT   seconds one UPLOAD URL fetch may take in total, default 30

Per-client limits (a client: its token's identity, else its address)
--------------------------------------------------------------------
PROVDB_TAP_MAX_JOBS_PER_CLIENT  active and pending async jobs of one client, default 20;
                            beyond it job creation answers HTTP 429 (Retry-After)
PROVDB_TAP_MAX_SYNC_PER_CLIENT  concurrent sync queries of one client (per host),
                            default 4; beyond it HTTP 429
PROVDB_TAP_MAX_STORED_JOBS  async jobs stored in all (any phase), default 10000; beyond
                            it job creation answers HTTP 503 until jobs are destroyed
PROVDB_TAP_JOB_LIST_MAX     jobs in one job list answer (the newest), default 1000;
                            page with LAST, AFTER and PHASE
PROVDB_TAP_TRUST_FORWARDED_FOR  1: the client address is the last X-Forwarded-For entry
                            (only behind a proxy that sets it); 0 (default): the peer
PROVDB_TAP_READ_AUTH        1: every read endpoint needs a bearer token of scope read
                            (``provdb token create NAME --scope read``); 0 (default):
                            anonymous reading (see tap/read_auth.py)
PROVDB_PROVSAP_MAX_IDS      IDs in one ProvSAP request, default 100
PROVDB_PROVSAP_MAX_DEPTH    largest numeric ProvSAP DEPTH, default 100 (ALL stays allowed:
                            the node limit bounds it)
PROVDB_TAP_BINARY2_COPY     1 (default): large VOTable BINARY2 results come from a binary
                            COPY turned into BINARY2 by the compiled transcoder (when it
                            was built, see tap/votable/binary2_copy.py); 0: not used
PROVDB_TAP_TEXT_COPY        1 (default): PostgreSQL's COPY writes CSV, TSV and JSON rows
                            (the same bytes, several times faster; columns whose text
                            only Python writes alike fall back, see
                            tap/votable/text_copy.py); 0: Python writes them all
PROVDB_TAP_BINARY2_SQL      1 (default): PostgreSQL writes VOTable BINARY2 rows when the
                            COPY path cannot (about 2.6x faster than Python: bench/README.md; see
                            tap/votable/binary2_sql.py); 0: Python writes them all

Limits on work per request (issue 18; every refusal names its setting)
------------------------------------------------------------------------
PROVDB_TAP_SYNC_EXECUTION   statement timeout of /sync queries and the UI (s), default 60
                            (a longer query belongs in an async job)
PROVDB_TAP_QUERY_MAX_CHARS  longest ADQL text read, default 100000
PROVDB_TAP_QUERY_MAX_TOKENS most tokens parsed, default 10000
PROVDB_TAP_QUERY_MAX_JOINS  most JOINs in one query, default 32 (and never more than 8
                            in a row without ON/USING: sqlglot's parse time doubles with each)
PROVDB_TAP_QUERY_MAX_DEPTH  deepest expression tree, default 100 (chains of OR/AND/||)
PROVDB_TAP_TRANSLATE_SECONDS  wall-clock budget of one translation (s), default 5; 0: none
PROVDB_TAP_WAIT_MAX         longest UWS blocking WAIT (s), default 30
PROVDB_TAP_WAITERS_MAX      requests that may block in WAIT at once per process, default 4
                            (more get the job document at once: WAIT never starves queries)

Service metadata and operations
-------------------------------
PROVDB_SERVICE_TITLE        name shown by the UI, the TAP home page and VOSI capabilities
                            (default "provdb ProvTAP service")
PROVDB_SERVICE_DESCRIPTION  one or two sentences about this archive
PROVDB_SERVICE_PUBLISHER    who runs the service (e.g. "CTAO LST collaboration")
PROVDB_SERVICE_CONTACT_NAME, PROVDB_SERVICE_CONTACT_EMAIL   whom to ask
PROVDB_METRICS              1 (default): Prometheus metrics at /metrics; 0: no /metrics

Push from pipelines (``POST /ingest``, see tap/ingest_api.py)
-------------------------------------------------------------
PROVDB_INGEST_API           1: serve the token-authenticated ingest endpoint; 0 (default):
                            it does not exist (404)
PROVDB_INGEST_MAX_BYTES     largest chunk accepted in one request, default 67108864 (64 MB)
PROVDB_INGEST_SPOOL         folder of the pushed files' copies (default: PROVDB_HOME/spool)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tap.adql.budget import QueryBudget

__all__ = ["TapConfig"]


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        from provdb.errors import ConfigError

        raise ConfigError(f"{name}={value!r} is not an integer") from None


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value <= 0:
        from provdb.errors import ConfigError

        raise ConfigError(f"{name}={value!r}: give a positive whole number")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        from provdb.errors import ConfigError

        raise ConfigError(f"{name}={text!r}: give a number of seconds (0: no limit)")
    return value


def _hosts(text: str | None) -> tuple[str, ...] | None:
    if not text or not text.strip():
        return None
    return tuple(h.strip().lower() for h in text.split(",") if h.strip())


def _allow_list(env: Mapping[str, str], name: str) -> str:
    from tap.query.fetch_url import parse_allow_list

    value = (env.get(name) or "").strip()
    try:
        parse_allow_list(value)
    except ValueError as exc:
        from provdb.errors import ConfigError

        raise ConfigError(f"{name}: {exc}") from None
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    from provdb.errors import ConfigError

    raise ConfigError(f"{name}={value!r}: use 1 or 0")


def _email(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if "@" not in value or " " in value:
        from provdb.errors import ConfigError

        raise ConfigError(f"{name}={value!r} is not an e-mail address (like ops@example.org)")
    return value


@dataclass(frozen=True)
class TapConfig:
    """Service limits; every value can be overridden for tests."""

    base_url: str | None = None
    maxrec_default: int = 100_000
    maxrec_hard: int = 10_000_000
    execution_default: int = 600
    execution_hard: int = 3600
    retention_default: int = 172_800
    retention_hard: int = 604_800
    upload_bytes: int = 20_000_000
    upload_rows: int = 1_000_000
    upload_tables: int = 8
    upload_urls: bool = True
    upload_allow: str = ""
    upload_timeout: int = 30
    # per-client limits (tap/clients.py)
    max_jobs_per_client: int = 20
    max_sync_per_client: int = 4
    max_stored_jobs: int = 10_000
    job_list_max: int = 1000
    trust_forwarded_for: bool = False
    provsap_max_ids: int = 100
    provsap_max_depth: int = 100
    read_auth: bool = False
    fetch_batch: int = 5000
    # limits on work per request (issue 18)
    sync_execution: int = 60
    query_max_chars: int = 100_000
    query_max_tokens: int = 10_000
    query_max_joins: int = 32
    query_max_depth: int = 100
    translate_seconds: float = 5.0
    wait_max: int = 30
    waiters_max: int = 4
    allowed_hosts: tuple[str, ...] | None = None  # None: the defaults (trusted_hosts)
    bind_host: str | None = None
    worker_timeout: int = 60
    async_workers: int = 2
    binary2_sql: bool = True
    binary2_copy: bool = True
    text_copy: bool = True
    # service metadata (UI, TAP home page, VOSI capabilities) and operations
    service_title: str = "provdb ProvTAP service"
    service_description: str = (
        "A TAP 1.1 / ADQL 2.1 service over an IVOA Provenance Data Model archive."
    )
    publisher: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    metrics: bool = True
    # push from pipelines (tap/ingest_api.py)
    ingest_api: bool = False
    ingest_max_bytes: int = 64 * 1024 * 1024
    ingest_spool: str | None = None

    def trusted_hosts(self) -> list[str] | None:
        """Host names the service answers for (Flask ``TRUSTED_HOSTS``); None: any."""
        if self.allowed_hosts is not None:
            return None if "*" in self.allowed_hosts else list(self.allowed_hosts)
        import socket
        from urllib.parse import urlsplit

        hosts = {"localhost", "127.0.0.1", "::1", socket.gethostname(), socket.getfqdn()}
        if self.bind_host and self.bind_host not in ("0.0.0.0", "::", ""):
            hosts.add(self.bind_host.strip("[]"))
        if self.base_url:
            name = urlsplit(self.base_url).hostname
            if name:
                hosts.add(name)
        return sorted(h for h in hosts if h)

    @property
    def query_budget(self) -> QueryBudget:
        """The ADQL complexity budget these settings give (:mod:`tap.adql.budget`)."""
        from tap.adql.budget import QueryBudget

        return QueryBudget(
            max_chars=self.query_max_chars,
            max_tokens=self.query_max_tokens,
            max_joins=self.query_max_joins,
            max_depth=self.query_max_depth,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TapConfig:
        env = os.environ if environ is None else environ
        return cls(
            base_url=(env.get("PROVDB_TAP_BASE_URL") or None),
            maxrec_default=_int(env, "PROVDB_TAP_MAXREC", cls.maxrec_default),
            maxrec_hard=_int(env, "PROVDB_TAP_MAXREC_HARD", cls.maxrec_hard),
            execution_default=_int(env, "PROVDB_TAP_EXECUTION", cls.execution_default),
            execution_hard=_int(env, "PROVDB_TAP_EXECUTION_HARD", cls.execution_hard),
            retention_default=_int(env, "PROVDB_TAP_RETENTION", cls.retention_default),
            retention_hard=_int(env, "PROVDB_TAP_RETENTION_HARD", cls.retention_hard),
            upload_bytes=_positive(env, "PROVDB_TAP_UPLOAD_BYTES", cls.upload_bytes),
            upload_rows=_positive(env, "PROVDB_TAP_UPLOAD_ROWS", cls.upload_rows),
            upload_tables=_positive(env, "PROVDB_TAP_UPLOAD_TABLES", cls.upload_tables),
            upload_urls=_flag(env, "PROVDB_TAP_UPLOAD_URLS", cls.upload_urls),
            upload_allow=_allow_list(env, "PROVDB_TAP_UPLOAD_ALLOW"),
            upload_timeout=_positive(env, "PROVDB_TAP_UPLOAD_TIMEOUT", cls.upload_timeout),
            max_jobs_per_client=_positive(
                env, "PROVDB_TAP_MAX_JOBS_PER_CLIENT", cls.max_jobs_per_client
            ),
            max_sync_per_client=_positive(
                env, "PROVDB_TAP_MAX_SYNC_PER_CLIENT", cls.max_sync_per_client
            ),
            max_stored_jobs=_positive(env, "PROVDB_TAP_MAX_STORED_JOBS", cls.max_stored_jobs),
            job_list_max=_positive(env, "PROVDB_TAP_JOB_LIST_MAX", cls.job_list_max),
            trust_forwarded_for=_flag(
                env, "PROVDB_TAP_TRUST_FORWARDED_FOR", cls.trust_forwarded_for
            ),
            provsap_max_ids=_positive(env, "PROVDB_PROVSAP_MAX_IDS", cls.provsap_max_ids),
            provsap_max_depth=_positive(env, "PROVDB_PROVSAP_MAX_DEPTH", cls.provsap_max_depth),
            read_auth=_flag(env, "PROVDB_TAP_READ_AUTH", cls.read_auth),
            sync_execution=_positive(env, "PROVDB_TAP_SYNC_EXECUTION", cls.sync_execution),
            query_max_chars=_positive(env, "PROVDB_TAP_QUERY_MAX_CHARS", cls.query_max_chars),
            query_max_tokens=_positive(env, "PROVDB_TAP_QUERY_MAX_TOKENS", cls.query_max_tokens),
            query_max_joins=_positive(env, "PROVDB_TAP_QUERY_MAX_JOINS", cls.query_max_joins),
            query_max_depth=_positive(env, "PROVDB_TAP_QUERY_MAX_DEPTH", cls.query_max_depth),
            translate_seconds=_seconds(env, "PROVDB_TAP_TRANSLATE_SECONDS", cls.translate_seconds),
            wait_max=_positive(env, "PROVDB_TAP_WAIT_MAX", cls.wait_max),
            waiters_max=_positive(env, "PROVDB_TAP_WAITERS_MAX", cls.waiters_max),
            allowed_hosts=_hosts(env.get("PROVDB_TAP_ALLOWED_HOSTS")),
            bind_host=env.get("PROVDB_TAP_BIND_HOST") or None,
            worker_timeout=_positive(env, "PROVDB_TAP_WORKER_TIMEOUT", cls.worker_timeout),
            binary2_sql=_flag(env, "PROVDB_TAP_BINARY2_SQL", cls.binary2_sql),
            binary2_copy=_flag(env, "PROVDB_TAP_BINARY2_COPY", cls.binary2_copy),
            text_copy=_flag(env, "PROVDB_TAP_TEXT_COPY", cls.text_copy),
            service_title=env.get("PROVDB_SERVICE_TITLE") or cls.service_title,
            service_description=(env.get("PROVDB_SERVICE_DESCRIPTION") or cls.service_description),
            publisher=env.get("PROVDB_SERVICE_PUBLISHER") or None,
            contact_name=env.get("PROVDB_SERVICE_CONTACT_NAME") or None,
            contact_email=_email(env, "PROVDB_SERVICE_CONTACT_EMAIL"),
            metrics=_flag(env, "PROVDB_METRICS", cls.metrics),
            ingest_api=_flag(env, "PROVDB_INGEST_API", cls.ingest_api),
            ingest_max_bytes=_int(env, "PROVDB_INGEST_MAX_BYTES", cls.ingest_max_bytes),
            ingest_spool=(env.get("PROVDB_INGEST_SPOOL") or None),
        )
