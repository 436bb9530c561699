"""The only ingest module that writes: archive rows -> PostgreSQL, by COPY and merge.

Rows are buffered per table, then each buffer is COPYed into a temporary staging table
and merged into its target with one ``INSERT ... SELECT ... ON CONFLICT`` statement.
Duplicates are folded in Python while buffering (an object id or a relation statement
seen again in the same batch is merged into its first sighting), so the staging tables
hold unique rows and the merge needs no ``GROUP BY`` / ``DISTINCT`` and no count query:

* **objects** (entity, activity, agent, session, environment, descriptions) merge by
  ``id``: within a batch the first non-null value of each column wins, and against the
  archive the existing value wins (``COALESCE(existing, new)``) — so an activity's end
  time, arriving later, fills the gap, and every sighting of an entity stays
  consistent with its first;
* **relations** are inserted ``ON CONFLICT DO NOTHING`` against their content
  uniqueness constraint, so re-ingest adds nothing while distinct statements are kept.

Before each object merge, one statement compares the staging table with its target
(``_find_conflicts``): every attribute the archive holds with another non-null value
than the batch offers is a *conflict* (the archive's value stays), collected in a
temporary table and saved per source file by :meth:`Loader.save_conflicts` into
``archive.ingest_conflict``. Values folded within one batch (an object repeated in the
same 50,000 rows) are merged first-wins in Python without that comparison.

Relations may point at objects never declared in their source (lstosa's dangling
derivation ids): bare target rows are created first, so foreign keys always hold.
Nothing here commits: the caller owns the transaction (one per source file).
"""

from __future__ import annotations

import dataclasses
import json
import operator
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from provdb import schema
from provdb.answers import flags
from provdb.ingest import records as r
from provdb.lineage import closure

if TYPE_CHECKING:
    import psycopg

__all__ = ["TABLES", "Loader"]


@dataclass(frozen=True)
class _Target:
    table: str  # schema.table
    row_type: type
    columns: tuple[str, ...]
    key: tuple[str, ...] | None  # merge key for objects; None for relations
    json_columns: tuple[str, ...] = ()


def _fields(row_type: type, skip: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(row_type) if f.name not in skip)


# Flush order matters: referenced tables before the tables that reference them.
TABLES: tuple[_Target, ...] = (
    _Target(
        "archive.environment",
        r.EnvironmentRow,
        ("id", "node", "python_version", "executable", "system"),
        ("id",),
        ("system",),
    ),
    _Target(
        "archive.processing_session",
        r.SessionRow,
        (*_fields(r.SessionRow), "night", "source_format", "software_package"),
        ("id",),
    ),
    _Target(
        "provenance.activitydescription",
        r.ActivityDescriptionRow,
        _fields(r.ActivityDescriptionRow),
        ("id",),
    ),
    _Target(
        "provenance.entitydescription",
        r.EntityDescriptionRow,
        _fields(r.EntityDescriptionRow),
        ("id",),
    ),
    _Target(
        "provenance.usagedescription",
        r.UsageDescriptionRow,
        _fields(r.UsageDescriptionRow),
        ("id",),
    ),
    _Target(
        "provenance.generationdescription",
        r.GenerationDescriptionRow,
        _fields(r.GenerationDescriptionRow),
        ("id",),
    ),
    _Target(
        "provenance.parameterdescription",
        r.ParameterDescriptionRow,
        _fields(r.ParameterDescriptionRow),
        ("id",),
    ),
    _Target(
        "provenance.configfiledescription",
        r.ConfigFileDescriptionRow,
        _fields(r.ConfigFileDescriptionRow),
        ("id",),
    ),
    _Target("provenance.agent", r.AgentRow, _fields(r.AgentRow), ("id",)),
    _Target("provenance.entity", r.EntityRow, _fields(r.EntityRow), ("id",), ("attributes",)),
    _Target("provenance.activity", r.ActivityRow, _fields(r.ActivityRow), ("id",), ("attributes",)),
    _Target("provenance.used", r.UsedRow, _fields(r.UsedRow), None),
    _Target("provenance.wasgeneratedby", r.GenerationRow, _fields(r.GenerationRow), None),
    _Target("provenance.wasassociatedwith", r.AssociationRow, _fields(r.AssociationRow), None),
    _Target("provenance.wasattributedto", r.AttributionRow, _fields(r.AttributionRow), None),
    _Target("provenance.wasderivedfrom", r.DerivationRow, _fields(r.DerivationRow), None),
    _Target("provenance.wasinformedby", r.InformRow, _fields(r.InformRow), None),
    _Target("provenance.hadmember", r.MemberRow, _fields(r.MemberRow), None),
    _Target("provenance.parameter", r.ParameterRow, _fields(r.ParameterRow), None),
    _Target("provenance.configfile", r.ConfigFileRow, _fields(r.ConfigFileRow), None),
)
_BY_TYPE = {t.row_type: t for t in TABLES}


def _unique_columns(table: str) -> tuple[str, ...]:
    """The columns of ``table``'s content uniqueness constraint (its ``ON CONFLICT``
    target), from the model."""
    model = schema.metadata.tables[table]
    for constraint in model.constraints:
        if isinstance(constraint, sa.UniqueConstraint):
            return tuple(c.name for c in constraint.columns)
    raise LookupError(f"{table} has no unique constraint to merge on")


#: The order each batch of relations is inserted in: its conflict key (the relation's
#: uniqueness constraint; objects and bare targets go in id order). Ids are md5 hashes
#: or random hex, so a batch in log order lands on the target's unique index at random
#: leaf pages, each read and dirtied again and again once the index outgrows the
#: buffers; sorted, consecutive rows share leaf pages and the index is walked once from
#: left to right. Measured with migration 0020 on the year archive: docs/performance.md
#: ("Redundant indexes, insert order, and the parameter value index").
_ORDER = {t.table: ", ".join(_unique_columns(t.table)) for t in TABLES if t.key is None}

#: Columns provdb sets itself (not values a source gives): never reported as conflicts
_NOT_COMPARED = frozenset({"night", "source_format"})

#: Where conflicts of one source file collect until :meth:`Loader.save_conflicts`
_CONFLICT_STAGE = "_stage_ingest_conflict"
_SOURCE_STAGE = "_stage_activity_source"
#: entities of a batch that are new or get a column filled in (provdb.answers.flags)
_CHANGED_STAGE = "_stage_entity_changed"

# Bare targets to create before relations: (target table, [(staging table, column)])
_REFERENCES = {
    "provenance.entity": [
        ("provenance.used", "entity_id"),
        ("provenance.wasgeneratedby", "entity_id"),
        ("provenance.wasattributedto", "entity_id"),
        ("provenance.wasderivedfrom", "generated_entity_id"),
        ("provenance.wasderivedfrom", "used_entity_id"),
        ("provenance.hadmember", "collection_id"),
        ("provenance.hadmember", "entity_id"),
        ("provenance.parameter", "value_entity_id"),
    ],
    "provenance.activity": [
        ("provenance.used", "activity_id"),
        ("provenance.wasgeneratedby", "activity_id"),
        ("provenance.wasassociatedwith", "activity_id"),
        ("provenance.wasinformedby", "informed_id"),
        ("provenance.wasinformedby", "informant_id"),
        ("provenance.parameter", "activity_id"),
        ("provenance.configfile", "activity_id"),
    ],
    "provenance.agent": [
        ("provenance.wasassociatedwith", "agent_id"),
        ("provenance.wasattributedto", "agent_id"),
    ],
}


def _stage(table: str) -> str:
    return "_stage_" + table.split(".")[1]


def _night(value: Any) -> str | None:
    text = str(value) if value else ""
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return None


_NAMED_VERSION = re.compile(r"^[^ ]+ [^ ]+$")


def session_package(source_format: str | None, software_version: str | None) -> str | None:
    """The package ``software_version`` is a version of (as archive.software names it).

    lstosa writes ``'v'`` + the lstchain version; a ctapipe tool's session holds the
    ctapipe version, or ``'<package> <version>'`` when the log named another package
    (the same rule as :data:`provdb.versions.SESSION_ROWS_SQL`). No version, no package.
    """
    if not software_version:
        return None
    if source_format == "ctapipe":
        if _NAMED_VERSION.match(software_version):
            name = software_version.split(" ", 1)[0].strip().lower()
            return re.sub(r"[-.\s]+", "_", name)
        return "ctapipe"
    return "lstchain"


class Loader:
    """Buffers archive rows and writes them in batches on one psycopg connection.

    Parameters
    ----------
    conn:
        A psycopg 3 connection inside the caller's transaction.
    source_format:
        Recorded on the sessions this loader writes.
    batch_size:
        Rows buffered before an automatic flush (bounds memory on huge files).
    background:
        Write each full batch from a helper thread while the caller goes on producing
        rows (the database works on one batch while Python parses the next; at most one
        batch is written at a time, on the same connection and transaction). The caller
        **must** then call :meth:`close` before it commits or rolls back, also on errors;
        :meth:`flush` waits for the helper too.

    Notes
    -----
    Within a batch, object rows are folded by id as they arrive (first non-null value
    of each column wins, exactly as a merge in arrival order) and relation rows are
    deduplicated on their full content (the first sighting is kept); JSON columns are
    serialised once per kept row, at flush time.
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        *,
        source_format: str,
        batch_size: int = 50_000,
        background: bool = False,
    ) -> None:
        self.conn = conn
        self.source_format = source_format
        self.batch_size = batch_size
        self.background = background
        self._writer: threading.Thread | None = None
        self._writer_error: BaseException | None = None
        # objects: id -> values; relations: values -> None (insertion-ordered sets)
        self._buffers: dict[_Target, dict[Any, Any]] = {t: {} for t in TABLES}
        #: line of the record whose rows are being added (set by the caller; None: no lines)
        self.line: int | None = None
        # object id -> line of its first sighting in the batch, for conflict reports
        self._lines: dict[_Target, dict[Any, int]] = {t: {} for t in TABLES if t.key}
        self._pending = 0
        #: attribute values found different from the archive's, counted per batch
        #: (:meth:`save_conflicts` returns the distinct ones of the file)
        self.conflicts = 0
        #: rows newly inserted, by table
        self.inserted: Counter[str] = Counter()
        #: rows offered that were already in the archive (merged or ignored), by table
        self.known: Counter[str] = Counter()
        self._staged = False
        #: ids of the sessions this loader was given rows of (their software versions
        #: are synced once per file: :func:`provdb.versions.sync_session_versions`)
        self.session_ids: set[str] = set()

    # -------------------------------------------------------------- buffering

    def add(self, row: r.ArchiveRow) -> None:
        """Buffer one row (flushes automatically every ``batch_size`` rows)."""
        target = _BY_TYPE[type(row)]
        values = _GETTERS[target](row)
        buf = self._buffers[target]
        if target.key is not None:
            key = values[0]
            if type(key) is not str and key is not None:
                key = str(key)  # the archive compares ids as text
            seen = buf.get(key)
            if seen is None:
                buf[key] = values
                if self.line is not None:
                    self._lines[target][key] = self.line
            elif None in seen:
                # first non-null value of each column wins
                buf[key] = tuple(
                    new if old is None else old for old, new in zip(seen, values, strict=True)
                )
        else:
            try:
                buf[values] = None
            except TypeError:  # an unhashable value: deduplicate on its repr
                buf[_Unhashable(values)] = None
        self._pending += 1
        if self._pending >= self.batch_size:
            if self.background:
                self._write_in_background()
            else:
                self.flush()

    def _final(self, target: _Target, values: tuple) -> tuple:
        """Values as written to the staging table (JSON serialised, session extras)."""
        if target.json_columns and target.row_type is not r.EnvironmentRow:
            values = tuple(
                json.dumps(v, default=str) if (i in _JSON_INDEXES[target] and v is not None) else v
                for i, v in enumerate(values)
            )
        if target.row_type is r.SessionRow:
            values = (
                *values,
                _night(values[_OBSERVATION_DATE]),
                self.source_format,
                session_package(self.source_format, values[_SOFTWARE_VERSION]),
            )
        return values

    # -------------------------------------------------------------- writing

    def _create_staging(self) -> None:
        with self.conn.cursor() as cur:
            for t in TABLES:
                cols = ", ".join(t.columns)
                cur.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {_stage(t.table)} ON COMMIT DROP AS "
                    f"SELECT {cols} FROM {t.table} WITH NO DATA"
                )
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_CONFLICT_STAGE} (table_name text, "
                "object_id text, attribute text, kept_value text, new_value text, "
                "line_number bigint) ON COMMIT DROP"
            )
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_SOURCE_STAGE} "
                "(activity_id text PRIMARY KEY) ON COMMIT DROP"
            )
        self._staged = True

    def flush(self) -> None:
        """Write every buffered row to the archive (inside the caller's transaction)."""
        self.close()
        if not self._pending:
            return
        buffers, lines = self._take()
        self._write(buffers, lines)

    def finish(self) -> int:
        """Flush, then bring the lineage closure up to date; returns closure rows written."""
        self.flush()
        with self.conn.cursor() as cur:
            written = closure.update_closure(cur)
        self.inserted["archive.lineage"] += written
        return written

    def close(self) -> None:
        """Wait for the background write in progress, if any; re-raise its error."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.join()
        error, self._writer_error = self._writer_error, None
        if error is not None:
            raise error

    def _take(self) -> tuple[dict[_Target, dict[Any, Any]], dict[_Target, dict[Any, int]]]:
        buffers = {t: buf for t, buf in self._buffers.items() if buf}
        for t in buffers:
            self._buffers[t] = {}
            if t.row_type is r.SessionRow:
                self.session_ids.update(buffers[t])
        lines = {t: found for t, found in self._lines.items() if found}
        for t in lines:
            self._lines[t] = {}
        self._pending = 0
        return buffers, lines

    def _write_in_background(self) -> None:
        self.close()  # one batch in flight at most (bounds memory, keeps order)
        buffers, lines = self._take()

        def run() -> None:
            try:
                self._write(buffers, lines)
            except BaseException as exc:  # handed to the caller by close()
                self._writer_error = exc

        self._writer = threading.Thread(target=run, name="provdb-loader", daemon=True)
        self._writer.start()

    def _write(
        self, buffers: dict[_Target, dict[Any, Any]], lines: dict[_Target, dict[Any, int]]
    ) -> None:
        if not self._staged:
            self._create_staging()
        active = [t for t in TABLES if t in buffers]
        with self.conn.cursor() as cur:
            for t in active:
                buf = buffers[t]
                plain = not t.json_columns and t.row_type is not r.SessionRow
                with cur.copy(f"COPY {_stage(t.table)} ({', '.join(t.columns)}) FROM STDIN") as cp:
                    write = cp.write_row
                    if t.key is not None:
                        for values in buf.values():
                            write(values if plain else self._final(t, values))
                    else:
                        for values in buf:
                            write(values.values if type(values) is _Unhashable else values)
            # objects first, then bare targets of relations, then relations
            for t in active:
                if t.key is not None:
                    self._find_conflicts(cur, t, lines.get(t))
                    if t.table == "provenance.entity":
                        self._note_changed_entities(cur, t)
                    self._merge_objects(cur, t, len(buffers[t]))
            self._create_bare_targets(cur, {t.table for t in active})
            for t in active:
                if t.key is None:
                    self._insert_relations(cur, t, len(buffers[t]))
            # direct lineage edges of this batch (closure updated once per file: finish())
            tables = {t.table for t in active}
            if tables & {
                "provenance.used",
                "provenance.wasgeneratedby",
                "provenance.wasderivedfrom",
            }:
                closure.add_edges(
                    cur,
                    used_stage=_stage("provenance.used") if "provenance.used" in tables else None,
                    generated_stage=_stage("provenance.wasgeneratedby")
                    if "provenance.wasgeneratedby" in tables
                    else None,
                    derived_stage=_stage("provenance.wasderivedfrom")
                    if "provenance.wasderivedfrom" in tables
                    else None,
                )
            # entities whose product flags may change (recomputed once per file by the caller,
            # after the session versions: flags.update_flags)
            flags.note_batch(
                cur,
                activity_stages=[
                    (_stage(table), "id" if table == "provenance.activity" else "activity_id")
                    for table in (
                        "provenance.activity",
                        "provenance.used",
                        "provenance.wasgeneratedby",
                    )
                    if table in tables
                ],
                entity_stages=(
                    [_stage("provenance.wasgeneratedby")]
                    if "provenance.wasgeneratedby" in tables
                    else []
                )
                + ([_CHANGED_STAGE] if "provenance.entity" in tables else []),
                used_stages=[_stage("provenance.used")] if "provenance.used" in tables else [],
                hash_stage=_stage("provenance.entity") if "provenance.entity" in tables else None,
            )
            # the activities this file gave records of (archive.activity_source, saved per
            # file by save_sources once the file has its archive.ingest_file id)
            sources = [
                f"SELECT {column} FROM {_stage(table)}"
                for table, column in (
                    ("provenance.activity", "id"),
                    ("provenance.wasgeneratedby", "activity_id"),
                )
                if table in tables
            ]
            if sources:
                cur.execute(
                    f"INSERT INTO {_SOURCE_STAGE} SELECT DISTINCT * FROM ("
                    + " UNION ".join(sources)
                    + ") AS a ON CONFLICT DO NOTHING"
                )
            cur.execute("TRUNCATE " + ", ".join(_stage(t.table) for t in active))

    def _find_conflicts(
        self, cur: psycopg.Cursor, t: _Target, lines: dict[Any, int] | None
    ) -> None:
        """Collect, set-wise, the staged values that differ from the archive's non-null ones.

        One statement per table: the join on the key finds the objects already known,
        a native comparison keeps those with any difference, and only their columns are
        unpivoted to text (``kept``, ``new``). The lines of the (rare) conflicting
        objects are then filled in from the batch's first sightings.
        """
        key = t.key[0]  # type: ignore[index]
        compared = [c for c in t.columns if c != key and c not in _NOT_COMPARED]
        if not compared:
            return
        differs = " OR ".join(f"t.{c} <> s.{c}" for c in compared)
        pairs = ", ".join(f"('{c}', t.{c}::text, s.{c}::text)" for c in compared)
        cur.execute(
            f"INSERT INTO {_CONFLICT_STAGE} (table_name, object_id, attribute, kept_value, "
            f"new_value) SELECT '{t.table}', s.{key}::text, c.attribute, c.kept, c.new "
            f"FROM {_stage(t.table)} s JOIN {t.table} t ON t.{key} = s.{key} "
            f"CROSS JOIN LATERAL (VALUES {pairs}) AS c(attribute, kept, new) "
            f"WHERE ({differs}) AND c.kept <> c.new"
        )
        found = max(cur.rowcount, 0)
        if not found:
            return
        self.conflicts += found
        if lines:
            cur.execute(
                f"SELECT DISTINCT object_id FROM {_CONFLICT_STAGE} "
                "WHERE table_name = %s AND line_number IS NULL",
                (t.table,),
            )
            known = [(lines[i], t.table, i) for (i,) in cur.fetchall() if i in lines]
            if known:
                cur.executemany(
                    f"UPDATE {_CONFLICT_STAGE} SET line_number = %s "
                    "WHERE table_name = %s AND object_id = %s AND line_number IS NULL",
                    known,
                )

    def save_conflicts(self, cur: psycopg.Cursor, ingest_file_id: int) -> int:
        """Store the conflicts found so far as rows of ``archive.ingest_conflict``.

        Returns the number of distinct conflicts (object and attribute) found; one
        already stored for this file (an earlier read of it) is not stored again.
        """
        if not self._staged:
            return 0
        cur.execute(
            f"SELECT count(DISTINCT (table_name, object_id, attribute)) FROM {_CONFLICT_STAGE}"
        )
        row = cur.fetchone()
        distinct = int(row[0]) if row else 0
        if distinct:
            cur.execute(
                "INSERT INTO archive.ingest_conflict (ingest_file_id, line_number, table_name, "
                "object_id, attribute, kept_value, new_value) "
                "SELECT DISTINCT ON (table_name, object_id, attribute) %s, line_number, "
                f"table_name, object_id, attribute, kept_value, new_value FROM {_CONFLICT_STAGE} "
                "ORDER BY table_name, object_id, attribute, line_number "
                "ON CONFLICT DO NOTHING",
                (ingest_file_id,),
            )
            cur.execute(f"TRUNCATE {_CONFLICT_STAGE}")
        return distinct

    def save_sources(self, cur: psycopg.Cursor, ingest_file_id: int) -> int:
        """Record ``ingest_file_id`` as a source of every activity the file gave records
        of (``archive.activity_source``); returns the rows added."""
        if not self._staged:
            return 0
        cur.execute(
            "INSERT INTO archive.activity_source (activity_id, ingest_file_id) "
            f"SELECT s.activity_id, %s FROM {_SOURCE_STAGE} s "
            "JOIN provenance.activity a ON a.id = s.activity_id ON CONFLICT DO NOTHING",
            (ingest_file_id,),
        )
        added = max(cur.rowcount, 0)
        cur.execute(f"TRUNCATE {_SOURCE_STAGE}")
        return added

    def _note_changed_entities(self, cur: psycopg.Cursor, t: _Target) -> None:
        """Before the merge: the staged entities that are new or will get a column filled
        in (the merge keeps the first non-null value), in ``_CHANGED_STAGE``. Only those
        can change their descendants' flags; an entity re-sighted unchanged (a config file
        every night uses) cannot (see provdb.answers.flags)."""
        filled = " OR ".join(
            f"(e.{c} IS NULL AND s.{c} IS NOT NULL)" for c in t.columns if c != "id"
        )
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_CHANGED_STAGE} (entity_id text) ON COMMIT DROP"
        )
        cur.execute(f"TRUNCATE {_CHANGED_STAGE}")
        cur.execute(
            f"INSERT INTO {_CHANGED_STAGE} SELECT s.id FROM {_stage(t.table)} s "
            f"LEFT JOIN {t.table} e ON e.id = s.id WHERE e.id IS NULL OR {filled}"
        )

    def _merge_objects(self, cur: psycopg.Cursor, t: _Target, offered: int) -> None:
        key = t.key[0]  # type: ignore[index]
        others = [c for c in t.columns if c != key]
        updates = ", ".join(f"{c} = COALESCE(t.{c}, EXCLUDED.{c})" for c in others)
        cols = ", ".join(t.columns)
        # Only rows that are new or fill in a column the archive lacks reach the upsert
        # (the update keeps the first non-null value, so the others would not change):
        # ON CONFLICT DO UPDATE locks every conflicting row until the file's transaction
        # ends, even when nothing changes, so re-sighting a shared object (the agent, a
        # configuration every night uses) made an ingest of another night wait for this
        # whole file, and two ingests locking shared rows in different orders could
        # deadlock (bench/bench_year.py --parallel).
        filled = "".join(f" OR (e.{c} IS NULL AND s.{c} IS NOT NULL)" for c in others)
        cur.execute(
            f"WITH merged AS (INSERT INTO {t.table} AS t ({cols}) "
            f"SELECT {', '.join('s.' + c for c in t.columns)} FROM {_stage(t.table)} s "
            f"LEFT JOIN {t.table} e ON e.{key} = s.{key} WHERE e.{key} IS NULL{filled} "
            f"ORDER BY s.{key} ON CONFLICT ({key}) DO UPDATE SET {updates} "
            "RETURNING (xmax = 0) AS new) SELECT count(*) FILTER (WHERE new) FROM merged"
        )
        row = cur.fetchone()
        inserted = int(row[0]) if row else 0
        self.inserted[t.table] += inserted
        self.known[t.table] += offered - inserted

    def _create_bare_targets(self, cur: psycopg.Cursor, active: set[str]) -> None:
        for target, sources in _REFERENCES.items():
            selects = [
                f"SELECT {col} AS id FROM {_stage(src)} WHERE {col} IS NOT NULL"
                for src, col in sources
                if src in active
            ]
            if not selects:
                continue
            union = " UNION ".join(selects)
            if target == "provenance.agent":
                sql = f"INSERT INTO {target} (id, name) SELECT id, id FROM ({union}) s "
            else:
                sql = f"INSERT INTO {target} (id) SELECT id FROM ({union}) s "
            cur.execute(sql + "ORDER BY id ON CONFLICT DO NOTHING")
            self.inserted[f"{target} (bare)"] += cur.rowcount

    def _insert_relations(self, cur: psycopg.Cursor, t: _Target, offered: int) -> None:
        cols = ", ".join(t.columns)
        cur.execute(
            f"INSERT INTO {t.table} ({cols}) SELECT {cols} FROM {_stage(t.table)} "
            f"ORDER BY {_ORDER[t.table]} ON CONFLICT DO NOTHING"
        )
        inserted = max(cur.rowcount, 0)
        self.inserted[t.table] += inserted
        self.known[t.table] += max(offered - inserted, 0)


class _Unhashable:
    """A relation row with an unhashable value, deduplicated on its ``repr``."""

    __slots__ = ("key", "values")

    def __init__(self, values: tuple) -> None:
        self.values = values
        self.key = repr(values)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unhashable) and other.key == self.key


def _environment_values(row: r.EnvironmentRow) -> tuple:
    system = row.system or {}
    platform = system.get("platform") if isinstance(system.get("platform"), dict) else {}
    python = system.get("python") if isinstance(system.get("python"), dict) else {}
    version = python.get("version")
    if isinstance(version, list):
        version = ".".join(str(v) for v in version)
    return (
        row.id,
        platform.get("node"),
        version,
        system.get("executable"),
        json.dumps(system, default=str),
    )


def _getter(t: _Target) -> Any:
    if t.row_type is r.EnvironmentRow:
        return _environment_values
    fields = [c for c in t.columns if c not in ("night", "source_format", "software_package")]
    return operator.attrgetter(*fields)  # >= 2 fields each: returns a tuple


#: row -> tuple of column values (without the session's night/source_format extras)
_GETTERS = {t: _getter(t) for t in TABLES}
_JSON_INDEXES = {t: frozenset(t.columns.index(c) for c in t.json_columns) for t in TABLES}
_OBSERVATION_DATE = _fields(r.SessionRow).index("observation_date")
_SOFTWARE_VERSION = _fields(r.SessionRow).index("software_version")
