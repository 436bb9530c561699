"""Every ``PROVDB_*`` setting, declared once (name, kind, default, unit, group, help).

Add a setting here (and read it with :func:`provdb.settings.value` or through a typed
view), then regenerate the table of the docs:
``python -m provdb.settings.render --write docs/settings.md``.
"""

from __future__ import annotations

from pathlib import Path

from provdb.embedded_config import DEFAULT_MAX_WAL_SIZE, MIN_MAX_WAL_SIZE
from provdb.settings.setting import Setting
from provdb.settings.types import (
    ByteSize,
    Choice,
    DatabaseUrl,
    DatabaseUrlList,
    Email,
    Flag,
    Folder,
    Integer,
    IvoaId,
    NetworkList,
    Number,
    Pattern,
    Seconds,
    Text,
    TextList,
    Url,
)

__all__ = ["GROUPS", "SETTINGS"]

#: group key -> title, in the order of listings
GROUPS = {
    "database": "Database",
    "ingest": "Ingest: limits per file",
    "push": "Push from pipelines",
    "obscore": "ObsCore and DataLink",
    "lineage": "Lineage drawings",
    "backup": "Backups",
    "service": "TAP service",
    "limits": "TAP service: limits on work per request",
    "security": "TAP service: security and per-client limits",
    "metadata": "TAP service: metadata and operations",
    "replicas": "Read replicas (hot standbys)",
    "ui": "Browser UI",
    "development": "Tests and benchmarks",
}


def _home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("provdb", appauthor=False)).absolute()


def _auto_shared_buffers() -> int:
    from provdb.embedded_config import auto_shared_buffers, machine_memory

    return auto_shared_buffers(machine_memory())


_POSITIVE = Integer(min=1)
_COUNT = Integer(min=0)
_SIZE = ByteSize(min=1)

_DECLARED = [
    # ------------------------------------------------------------------ database
    Setting(
        "PROVDB_DATABASE_URL",
        DatabaseUrl(),
        None,
        "Your own PostgreSQL (15 or newer) instead of the embedded server.",
        "database",
        default_text="(embedded server)",
    ),
    Setting(
        "PROVDB_HOME",
        Folder(),
        None,
        "Folder of the embedded server's data (`pgdata`) and provdb's own files "
        "(async job results, spool).",
        "database",
        default_text="the platform's user data folder (`~/.local/share/provdb` on Linux)",
        default_factory=_home,
    ),
    Setting(
        "PROVDB_EMBEDDED_SHARED_BUFFERS",
        ByteSize(min=128 << 20),
        None,
        "Shared buffers of the embedded server (its cache of table and index pages), "
        "written into `pgdata/provdb.conf` at each start; takes effect when the server "
        "starts. Ignored with PROVDB_DATABASE_URL; `ALTER SYSTEM` overrides it.",
        "database",
        "bytes",
        default_text="a quarter of the machine's (or container's) memory, 128MiB to 4GiB",
        default_factory=_auto_shared_buffers,
    ),
    Setting(
        "PROVDB_EMBEDDED_MAX_WAL_SIZE",
        ByteSize(min=MIN_MAX_WAL_SIZE),
        DEFAULT_MAX_WAL_SIZE,
        "WAL the embedded server writes between two checkpoints (PostgreSQL's "
        "`max_wal_size`), written into `pgdata/provdb.conf` at each start. Raise it "
        "together with PROVDB_EMBEDDED_SHARED_BUFFERS: longer with enough buffers, a "
        "big ingest writes fewer whole pages twice (year nights 18 % faster with 12GB of "
        "each); longer alone, it made them slower. Costs disk for the WAL of a long "
        "ingest and a longer crash recovery. Ignored with PROVDB_DATABASE_URL; "
        "`ALTER SYSTEM` overrides it.",
        "database",
        "bytes",
    ),
    # ------------------------------------------------------------------ ingest
    Setting(
        "PROVDB_INGEST_MAX_LINE_BYTES",
        _SIZE,
        16 << 20,
        "Longest line of a line-based log that is read; a longer one is rejected into "
        "`archive.ingest_reject` with its first bytes.",
        "ingest",
        "bytes",
    ),
    Setting(
        "PROVDB_INGEST_MAX_FIELD_BYTES",
        _SIZE,
        2048,
        "Longest text field (id, path, name) of an lstosa record; a record with a longer "
        "one is rejected (the archive indexes them).",
        "ingest",
        "bytes",
    ),
    Setting(
        "PROVDB_INGEST_MAX_DOCUMENT_BYTES",
        _SIZE,
        1 << 30,
        "Largest (decompressed) JSON / XML / PROV-N document read whole.",
        "ingest",
        "bytes",
    ),
    Setting(
        "PROVDB_INGEST_MAX_RATIO",
        _POSITIVE,
        200,
        "Largest decompression ratio (output / compressed input) once "
        "PROVDB_INGEST_RATIO_FLOOR_BYTES came out: logs compress 5-30 times, a bomb 1,000.",
        "ingest",
    ),
    Setting(
        "PROVDB_INGEST_RATIO_FLOOR_BYTES",
        _SIZE,
        64 << 20,
        "Decompressed bytes below which the ratio is not checked.",
        "ingest",
        "bytes",
    ),
    Setting(
        "PROVDB_INGEST_MAX_DECOMPRESSED_BYTES",
        _SIZE,
        64 << 30,
        "Largest decompressed stream of any compressed file.",
        "ingest",
        "bytes",
    ),
    # ------------------------------------------------------------------ push
    Setting(
        "PROVDB_INGEST_API",
        Flag(),
        False,
        "Serve the token-authenticated `POST /ingest` and `GET /ingest/status` "
        "(0: they do not exist, 404).",
        "push",
    ),
    Setting(
        "PROVDB_INGEST_MAX_BYTES",
        _SIZE,
        64 << 20,
        "Largest chunk accepted in one `POST /ingest` request.",
        "push",
        "bytes",
    ),
    Setting(
        "PROVDB_INGEST_SPOOL",
        Folder(),
        None,
        "Folder of the pushed files' copies.",
        "push",
        default_text="`$PROVDB_HOME/spool`",
    ),
    Setting(
        "PROVDB_TOKEN",
        Text(),
        None,
        "The token `provdb push` sends (another variable: `--token-env`); never shown.",
        "push",
        secret=True,
    ),
    # ------------------------------------------------------------------ obscore
    Setting(
        "PROVDB_OBSCORE_COLLECTION",
        Text(),
        "LST-1",
        "`obs_collection` of every product (`provdb obscore --rebuild` after a change).",
        "obscore",
    ),
    Setting(
        "PROVDB_OBSCORE_FACILITY", Text(), "LST-1", "`facility_name` of every product.", "obscore"
    ),
    Setting(
        "PROVDB_OBSCORE_INSTRUMENT",
        Text(),
        "LSTCam",
        "`instrument_name` of every product.",
        "obscore",
    ),
    Setting(
        "PROVDB_OBSCORE_FOV",
        Number(above=0),
        4.5,
        "`s_fov`: field of view diameter.",
        "obscore",
        "deg",
    ),
    Setting(
        "PROVDB_OBSCORE_AUTHORITY",
        IvoaId(),
        "ivo://provdb.local/product",
        "`obs_publisher_did` is `<authority>?<entity id>`: register your own.",
        "obscore",
    ),
    Setting(
        "PROVDB_OBSCORE_ACCESS_URL",
        Pattern(fields=("path", "name", "id")),
        None,
        "`access_url` pattern of the files: `{path}` (URL-quoted), `{name}`, `{id}`.",
        "obscore",
        default_text="(the product's DataLink document)",
    ),
    # ------------------------------------------------------------------ lineage
    Setting(
        "PROVDB_SVG_ENGINE",
        Choice(options=("auto", "dot", "python")),
        "python",
        "SVG layout: python (built in), dot (Graphviz), auto (dot up to "
        "PROVDB_SVG_DOT_MAX_NODES nodes when one is found).",
        "lineage",
    ),
    Setting(
        "PROVDB_SVG_DOT_MAX_NODES",
        _POSITIVE,
        100,
        "Largest graph the auto engine gives to Graphviz.",
        "lineage",
        "nodes",
    ),
    Setting(
        "PROVDB_DOT",
        Text(),
        None,
        "The Graphviz `dot` to use (a path or a name on PATH).",
        "lineage",
        default_text="`dot` on PATH, else graphviz-pure's",
    ),
    Setting(
        "PROVDB_PROVSAP_NODE_LIMIT",
        _POSITIVE,
        5000,
        "Most nodes of a ProvSAP graph; bigger ones are cut and say so (a full-size "
        "LST-1 run's DL3 file has a lineage of ~1,100 nodes).",
        "lineage",
        "nodes",
    ),
    Setting(
        "PROVDB_UI_URL_PATTERN",
        Pattern(fields=("kind", "id")),
        None,
        "Where ProvSAP SVG nodes link: `{kind}` (entity, activity, agent), `{id}`.",
        "lineage",
        default_text="`<service>/ui/{kind}/{id}`",
    ),
    # ------------------------------------------------------------------ backup
    Setting(
        "PROVDB_PG_BIN",
        Folder(),
        None,
        "Folder of the `pg_dump` / `pg_restore` to use, and nothing else.",
        "backup",
        default_text="PATH, then the embedded server's",
    ),
    # ------------------------------------------------------------------ service
    Setting(
        "PROVDB_TAP_BASE_URL",
        Url(),
        None,
        "Public TAP base URL (behind a proxy); also the base of DataLink URLs in ObsCore.",
        "service",
        default_text="from each request's Host header",
    ),
    Setting(
        "PROVDB_TAP_BIND_HOST",
        Text(),
        None,
        "Set by `provdb serve` from `--host` (its Host header is allowed).",
        "service",
    ),
    Setting("PROVDB_TAP_MAXREC", _COUNT, 100_000, "Default MAXREC.", "service", "rows"),
    Setting("PROVDB_TAP_MAXREC_HARD", _COUNT, 10_000_000, "Hard row limit.", "service", "rows"),
    Setting(
        "PROVDB_TAP_EXECUTION",
        Seconds(),
        600,
        "Default execution duration of async jobs.",
        "service",
        "s",
    ),
    Setting(
        "PROVDB_TAP_EXECUTION_HARD", Seconds(), 3600, "Hard execution duration.", "service", "s"
    ),
    Setting(
        "PROVDB_TAP_RETENTION", Seconds(), 172_800, "Default async job lifetime.", "service", "s"
    ),
    Setting(
        "PROVDB_TAP_RETENTION_HARD", Seconds(), 604_800, "Hard async job lifetime.", "service", "s"
    ),
    Setting(
        "PROVDB_TAP_WORKER_TIMEOUT",
        Seconds(min=1),
        60,
        "gunicorn worker timeout: a worker whose main loop stops answering is restarted.",
        "service",
        "s",
    ),
    Setting(
        "PROVDB_TAP_SYNC_BUFFER_BYTES",
        _COUNT,
        65_536,
        "A /sync result up to this size is sent whole with Content-Length (one write); "
        "larger ones stream in chunks. 0 streams every result.",
        "service",
        "bytes",
    ),
    Setting(
        "PROVDB_TAP_BINARY2_COPY",
        Flag(),
        True,
        "Large VOTable BINARY2 results come from a binary COPY through the compiled "
        "transcoder (0: not used).",
        "service",
    ),
    Setting(
        "PROVDB_TAP_BINARY2_SQL",
        Flag(),
        True,
        "PostgreSQL writes VOTable BINARY2 rows when COPY cannot (0: Python writes them).",
        "service",
    ),
    Setting(
        "PROVDB_TAP_TEXT_COPY",
        Flag(),
        True,
        "PostgreSQL's COPY writes CSV, TSV and JSON rows (the same bytes, several times "
        "faster; columns only Python writes alike fall back); 0: Python writes them all.",
        "service",
    ),
    # ------------------------------------------------------------------ limits
    Setting(
        "PROVDB_TAP_SYNC_EXECUTION",
        Seconds(min=1),
        60,
        "Statement timeout of /sync queries and the UI.",
        "limits",
        "s",
    ),
    Setting("PROVDB_TAP_QUERY_MAX_CHARS", _POSITIVE, 100_000, "Longest ADQL text read.", "limits"),
    Setting("PROVDB_TAP_QUERY_MAX_TOKENS", _POSITIVE, 10_000, "Most ADQL tokens parsed.", "limits"),
    Setting(
        "PROVDB_TAP_QUERY_MAX_JOINS",
        _POSITIVE,
        32,
        "Most JOINs in one query (never more than 8 in a row without ON/USING).",
        "limits",
    ),
    Setting("PROVDB_TAP_QUERY_MAX_DEPTH", _POSITIVE, 100, "Deepest expression tree.", "limits"),
    Setting(
        "PROVDB_TAP_TRANSLATE_SECONDS",
        Seconds(whole=False),
        5.0,
        "Wall-clock budget of one ADQL translation (0: none).",
        "limits",
        "s",
    ),
    Setting("PROVDB_TAP_WAIT_MAX", Seconds(min=1), 30, "Longest UWS blocking WAIT.", "limits", "s"),
    Setting(
        "PROVDB_TAP_WAITERS_MAX",
        _POSITIVE,
        4,
        "Requests that may block in WAIT at once per process.",
        "limits",
    ),
    Setting(
        "PROVDB_TAP_JOB_MAX_ATTEMPTS",
        _POSITIVE,
        3,
        "Runs of an async job whose worker process dies under it (killed, out of memory);"
        " after the last the job ends ERROR saying why.",
        "security",
    ),
    # ------------------------------------------------------------------ security
    Setting(
        "PROVDB_TAP_ALLOWED_HOSTS",
        TextList(lower=True),
        None,
        "Host names requests may be addressed to (`.example.org`: its subdomains; `*`: "
        "any); other Host headers get HTTP 400.",
        "security",
        default_text="localhost, this machine's names, `--host`, the base URL's host",
    ),
    Setting(
        "PROVDB_TAP_UPLOAD_BYTES",
        _SIZE,
        20_000_000,
        "Bytes of all UPLOAD tables of one request.",
        "security",
        "bytes",
    ),
    Setting(
        "PROVDB_TAP_UPLOAD_ROWS",
        _POSITIVE,
        1_000_000,
        "Rows of all UPLOAD tables of one request.",
        "security",
        "rows",
    ),
    Setting("PROVDB_TAP_UPLOAD_TABLES", _POSITIVE, 8, "UPLOAD tables in one request.", "security"),
    Setting(
        "PROVDB_TAP_UPLOAD_URLS",
        Flag(),
        True,
        "UPLOAD may name an http(s) URL (0: inline `param:` tables only).",
        "security",
    ),
    Setting(
        "PROVDB_TAP_UPLOAD_ALLOW",
        NetworkList(),
        "",
        "Internal hosts and networks an UPLOAD URL may reach (others internal: refused).",
        "security",
        default_text="(none)",
    ),
    Setting(
        "PROVDB_TAP_UPLOAD_TIMEOUT",
        Seconds(min=1),
        30,
        "Time one UPLOAD URL fetch may take in total.",
        "security",
        "s",
    ),
    Setting(
        "PROVDB_TAP_MAX_JOBS_PER_CLIENT",
        _POSITIVE,
        20,
        "Pending and running async jobs of one client (beyond: HTTP 429).",
        "security",
    ),
    Setting(
        "PROVDB_TAP_MAX_SYNC_PER_CLIENT",
        _POSITIVE,
        4,
        "Concurrent sync queries of one client, across every instance of the service "
        "(beyond: HTTP 429).",
        "security",
    ),
    Setting(
        "PROVDB_TAP_MAX_STORED_JOBS",
        _POSITIVE,
        10_000,
        "Async jobs stored in all (beyond: HTTP 503 until jobs are destroyed).",
        "security",
    ),
    Setting(
        "PROVDB_TAP_JOB_LIST_MAX",
        _POSITIVE,
        1000,
        "Jobs in one job list answer (the newest; page with LAST, AFTER, PHASE).",
        "security",
    ),
    Setting(
        "PROVDB_TAP_TRUST_FORWARDED_FOR",
        Flag(),
        False,
        "The client address is the last X-Forwarded-For entry (only behind a proxy that sets it).",
        "security",
    ),
    Setting(
        "PROVDB_TAP_READ_AUTH",
        Flag(),
        False,
        "Every read endpoint needs a bearer token of scope read.",
        "security",
    ),
    Setting("PROVDB_PROVSAP_MAX_IDS", _POSITIVE, 100, "IDs in one ProvSAP request.", "security"),
    Setting(
        "PROVDB_PROVSAP_MAX_DEPTH",
        _POSITIVE,
        100,
        "Largest numeric ProvSAP DEPTH (ALL stays allowed: the node limit bounds it).",
        "security",
    ),
    # ------------------------------------------------------------------ metadata
    Setting(
        "PROVDB_SERVICE_TITLE",
        Text(),
        "provdb ProvTAP service",
        "Name shown by the UI, the `/tap` home page and VOSI capabilities.",
        "metadata",
    ),
    Setting(
        "PROVDB_SERVICE_DESCRIPTION",
        Text(),
        "A TAP 1.1 / ADQL 2.1 service over an IVOA Provenance Data Model archive.",
        "One or two sentences about this archive.",
        "metadata",
    ),
    Setting(
        "PROVDB_SERVICE_PUBLISHER",
        Text(),
        None,
        "Who runs the service (e.g. CTAO LST collaboration).",
        "metadata",
    ),
    Setting("PROVDB_SERVICE_CONTACT_NAME", Text(), None, "Whom to ask.", "metadata"),
    Setting("PROVDB_SERVICE_CONTACT_EMAIL", Email(), None, "Their e-mail address.", "metadata"),
    Setting(
        "PROVDB_METRICS", Flag(), True, "Prometheus metrics at `/metrics` (0: none).", "metadata"
    ),
    # ------------------------------------------------------------------ replicas
    Setting(
        "PROVDB_READ_URLS",
        DatabaseUrlList(),
        (),
        "Hot standbys of the database: queries, ProvSAP, the UI and DataLink read there in "
        "turn; writes (job rows, ingest, tokens) and queries with UPLOADs use the primary.",
        "replicas",
        default_text="(none: everything on the primary)",
    ),
    Setting(
        "PROVDB_READ_RETRY",
        Seconds(min=0, whole=False),
        30.0,
        "A replica whose connection failed is left alone this long (its queries go to "
        "another replica or the primary).",
        "replicas",
        "s",
    ),
    Setting(
        "PROVDB_READ_MAX_LAG",
        Seconds(min=0, whole=False),
        30.0,
        "A replica whose replay lags more than this gets no queries until it has caught up.",
        "replicas",
        "s",
    ),
    # ------------------------------------------------------------------ ui
    Setting(
        "PROVDB_UI_GRAPH_LIMIT",
        _POSITIVE,
        500,
        "Most nodes of a UI page's lineage graph.",
        "ui",
        "nodes",
    ),
    Setting(
        "PROVDB_UI_MAX_ROWS", _POSITIVE, 1000, "Most rows the UI's ADQL page shows.", "ui", "rows"
    ),
    Setting(
        "PROVDB_UI_INGEST_PAGE",
        _POSITIVE,
        50,
        "Files per page of the UI's ingest history.",
        "ui",
        "files",
    ),
    # ------------------------------------------------------------------ development
    Setting(
        "PROVDB_SAMPLES",
        Folder(),
        None,
        "Sample tree the tests and bench/ read.",
        "development",
        default_text="provdb's own `provdb/samples`",
    ),
    Setting(
        "PROVDB_TEST_DATABASE_URL",
        DatabaseUrl(),
        None,
        "Run the tests on this server (the user must be allowed to create databases).",
        "development",
        default_text="(embedded server)",
    ),
    Setting(
        "PROVDB_WORKER_HOST",
        Text(),
        None,
        "Host name written in async worker ids instead of this machine's: the tests run "
        "instances that look as if they were on other hosts.",
        "development",
        default_text="this machine's host name",
    ),
    Setting(
        "PROVDB_FUZZ_EXAMPLES",
        _POSITIVE,
        150,
        "Cases per endpoint group of the service fuzz test.",
        "development",
    ),
]

#: name -> declaration, in listing order (grouped)
SETTINGS: dict[str, Setting] = {
    s.name: s for group in GROUPS for s in _DECLARED if s.group == group
}
