"""TapConfig: limits and public URL of the TAP service, a typed view of the registry.

Every ``PROVDB_*`` variable the service reads is declared once in
:mod:`provdb.settings.catalog` (kind, default, unit, help); :meth:`TapConfig.from_env`
reads them through :func:`provdb.settings.value`, so a bad value is one line naming the
variable and what it allows. ``provdb settings`` lists them with their current values,
``provdb serve --help`` lists the service's, docs/settings.md has the table.
:data:`FIELDS` maps each field to its variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provdb import settings

if TYPE_CHECKING:
    from tap.adql.budget import QueryBudget

__all__ = ["FIELDS", "TapConfig"]


#: TapConfig field -> the setting it is read from (the fields not here are internal)
FIELDS = {
    "base_url": "PROVDB_TAP_BASE_URL",
    "maxrec_default": "PROVDB_TAP_MAXREC",
    "maxrec_hard": "PROVDB_TAP_MAXREC_HARD",
    "execution_default": "PROVDB_TAP_EXECUTION",
    "execution_hard": "PROVDB_TAP_EXECUTION_HARD",
    "retention_default": "PROVDB_TAP_RETENTION",
    "retention_hard": "PROVDB_TAP_RETENTION_HARD",
    "upload_bytes": "PROVDB_TAP_UPLOAD_BYTES",
    "upload_rows": "PROVDB_TAP_UPLOAD_ROWS",
    "upload_tables": "PROVDB_TAP_UPLOAD_TABLES",
    "upload_urls": "PROVDB_TAP_UPLOAD_URLS",
    "upload_allow": "PROVDB_TAP_UPLOAD_ALLOW",
    "upload_timeout": "PROVDB_TAP_UPLOAD_TIMEOUT",
    "max_jobs_per_client": "PROVDB_TAP_MAX_JOBS_PER_CLIENT",
    "max_sync_per_client": "PROVDB_TAP_MAX_SYNC_PER_CLIENT",
    "max_stored_jobs": "PROVDB_TAP_MAX_STORED_JOBS",
    "job_list_max": "PROVDB_TAP_JOB_LIST_MAX",
    "trust_forwarded_for": "PROVDB_TAP_TRUST_FORWARDED_FOR",
    "provsap_max_ids": "PROVDB_PROVSAP_MAX_IDS",
    "provsap_max_depth": "PROVDB_PROVSAP_MAX_DEPTH",
    "provsap_node_limit": "PROVDB_PROVSAP_NODE_LIMIT",
    "ui_url_pattern": "PROVDB_UI_URL_PATTERN",
    "ui_graph_limit": "PROVDB_UI_GRAPH_LIMIT",
    "ui_max_rows": "PROVDB_UI_MAX_ROWS",
    "ui_ingest_page": "PROVDB_UI_INGEST_PAGE",
    "read_auth": "PROVDB_TAP_READ_AUTH",
    "sync_execution": "PROVDB_TAP_SYNC_EXECUTION",
    "sync_buffer_bytes": "PROVDB_TAP_SYNC_BUFFER_BYTES",
    "query_max_chars": "PROVDB_TAP_QUERY_MAX_CHARS",
    "query_max_tokens": "PROVDB_TAP_QUERY_MAX_TOKENS",
    "query_max_joins": "PROVDB_TAP_QUERY_MAX_JOINS",
    "query_max_depth": "PROVDB_TAP_QUERY_MAX_DEPTH",
    "translate_seconds": "PROVDB_TAP_TRANSLATE_SECONDS",
    "wait_max": "PROVDB_TAP_WAIT_MAX",
    "waiters_max": "PROVDB_TAP_WAITERS_MAX",
    "job_max_attempts": "PROVDB_TAP_JOB_MAX_ATTEMPTS",
    "read_urls": "PROVDB_READ_URLS",
    "read_retry": "PROVDB_READ_RETRY",
    "read_max_lag": "PROVDB_READ_MAX_LAG",
    "allowed_hosts": "PROVDB_TAP_ALLOWED_HOSTS",
    "bind_host": "PROVDB_TAP_BIND_HOST",
    "worker_timeout": "PROVDB_TAP_WORKER_TIMEOUT",
    "binary2_sql": "PROVDB_TAP_BINARY2_SQL",
    "text_copy": "PROVDB_TAP_TEXT_COPY",
    "binary2_copy": "PROVDB_TAP_BINARY2_COPY",
    "service_title": "PROVDB_SERVICE_TITLE",
    "service_description": "PROVDB_SERVICE_DESCRIPTION",
    "publisher": "PROVDB_SERVICE_PUBLISHER",
    "contact_name": "PROVDB_SERVICE_CONTACT_NAME",
    "contact_email": "PROVDB_SERVICE_CONTACT_EMAIL",
    "metrics": "PROVDB_METRICS",
    "ingest_api": "PROVDB_INGEST_API",
    "ingest_max_bytes": "PROVDB_INGEST_MAX_BYTES",
    "ingest_spool": "PROVDB_INGEST_SPOOL",
}


def _d(field: str) -> Any:
    """The registry's default of ``field`` (one declaration for both)."""
    return settings.default(FIELDS[field])


@dataclass(frozen=True)
class TapConfig:
    """Service limits; every value can be overridden for tests."""

    base_url: str | None = _d("base_url")
    maxrec_default: int = _d("maxrec_default")
    maxrec_hard: int = _d("maxrec_hard")
    execution_default: int = _d("execution_default")
    execution_hard: int = _d("execution_hard")
    retention_default: int = _d("retention_default")
    retention_hard: int = _d("retention_hard")
    upload_bytes: int = _d("upload_bytes")
    upload_rows: int = _d("upload_rows")
    upload_tables: int = _d("upload_tables")
    upload_urls: bool = _d("upload_urls")
    upload_allow: str = _d("upload_allow")
    upload_timeout: int = _d("upload_timeout")
    # per-client limits (tap/clients.py)
    max_jobs_per_client: int = _d("max_jobs_per_client")
    max_sync_per_client: int = _d("max_sync_per_client")
    max_stored_jobs: int = _d("max_stored_jobs")
    job_list_max: int = _d("job_list_max")
    trust_forwarded_for: bool = _d("trust_forwarded_for")
    provsap_max_ids: int = _d("provsap_max_ids")
    provsap_max_depth: int = _d("provsap_max_depth")
    # ProvSAP graphs and the UI (tap/provsap.py, tap/ui: read through app.config)
    provsap_node_limit: int = _d("provsap_node_limit")
    ui_url_pattern: str | None = _d("ui_url_pattern")
    ui_graph_limit: int = _d("ui_graph_limit")
    ui_max_rows: int = _d("ui_max_rows")
    ui_ingest_page: int = _d("ui_ingest_page")
    read_auth: bool = _d("read_auth")
    fetch_batch: int = 5000
    # limits on work per request (issue 18)
    sync_execution: int = _d("sync_execution")
    sync_buffer_bytes: int = _d("sync_buffer_bytes")
    query_max_chars: int = _d("query_max_chars")
    query_max_tokens: int = _d("query_max_tokens")
    query_max_joins: int = _d("query_max_joins")
    query_max_depth: int = _d("query_max_depth")
    translate_seconds: float = _d("translate_seconds")
    wait_max: int = _d("wait_max")
    waiters_max: int = _d("waiters_max")
    job_max_attempts: int = _d("job_max_attempts")
    # read replicas (tap/replicas.py)
    read_urls: tuple[str, ...] = _d("read_urls")
    read_retry: float = _d("read_retry")
    read_max_lag: float = _d("read_max_lag")
    allowed_hosts: tuple[str, ...] | None = _d("allowed_hosts")  # None: see trusted_hosts
    bind_host: str | None = _d("bind_host")
    worker_timeout: int = _d("worker_timeout")
    async_workers: int = 2
    binary2_sql: bool = _d("binary2_sql")
    text_copy: bool = _d("text_copy")
    binary2_copy: bool = _d("binary2_copy")
    # service metadata (UI, TAP home page, VOSI capabilities) and operations
    service_title: str = _d("service_title")
    service_description: str = _d("service_description")
    publisher: str | None = _d("publisher")
    contact_name: str | None = _d("contact_name")
    contact_email: str | None = _d("contact_email")
    metrics: bool = _d("metrics")
    # push from pipelines (tap/ingest_api.py)
    ingest_api: bool = _d("ingest_api")
    ingest_max_bytes: int = _d("ingest_max_bytes")
    ingest_spool: str | None = _d("ingest_spool")

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
        """Read every field of :data:`FIELDS` from the environment (or ``environ``).

        Raises
        ------
        provdb.errors.ConfigError
            A value is unusable: one line naming the variable and what it allows.
        """
        values = {field: settings.value(name, environ) for field, name in FIELDS.items()}
        spool = values["ingest_spool"]
        values["ingest_spool"] = str(spool) if spool is not None else None
        return cls(**values)
