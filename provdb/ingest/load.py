"""The only ingest module that writes: archive rows -> PostgreSQL, by COPY and merge.

Rows are buffered per table, then each buffer is COPYed into a temporary staging table
and merged into its target with one ``INSERT ... SELECT ... ON CONFLICT`` statement:

* **objects** (entity, activity, agent, session, environment, descriptions) merge by
  ``id``: within a batch the first non-null value of each column wins, and against the
  archive the existing value wins (``COALESCE(existing, new)``) — so an activity's end
  time, arriving later, fills the gap, and every sighting of an entity stays
  consistent with its first;
* **relations** are inserted ``ON CONFLICT DO NOTHING`` against their content
  uniqueness constraint, so re-ingest adds nothing while distinct statements are kept.

Relations may point at objects never declared in their source (lstosa's dangling
derivation ids): bare target rows are created first, so foreign keys always hold.
Nothing here commits: the caller owns the transaction (one per source file).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provdb.ingest import records as r

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
        "archive.session", r.SessionRow, (*_fields(r.SessionRow), "night", "source_format"), ("id",)
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
    """

    def __init__(
        self, conn: psycopg.Connection, *, source_format: str, batch_size: int = 50_000
    ) -> None:
        self.conn = conn
        self.source_format = source_format
        self.batch_size = batch_size
        self._buffers: dict[_Target, list[tuple]] = {t: [] for t in TABLES}
        self._pending = 0
        self._seq = 0
        #: rows newly inserted, by table
        self.inserted: Counter[str] = Counter()
        #: rows offered that were already in the archive (merged or ignored), by table
        self.known: Counter[str] = Counter()
        self._staged = False

    # -------------------------------------------------------------- buffering

    def add(self, row: r.ArchiveRow) -> None:
        """Buffer one row (flushes automatically every ``batch_size`` rows)."""
        target = _BY_TYPE[type(row)]
        self._seq += 1
        self._buffers[target].append(self._values(target, row))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush()

    def add_all(self, rows: list[r.ArchiveRow]) -> None:
        for row in rows:
            self.add(row)

    def _values(self, target: _Target, row: Any) -> tuple:
        if target.row_type is r.EnvironmentRow:
            system = row.system or {}
            platform = system.get("platform") if isinstance(system.get("platform"), dict) else {}
            python = system.get("python") if isinstance(system.get("python"), dict) else {}
            version = python.get("version")
            if isinstance(version, list):
                version = ".".join(str(v) for v in version)
            values = (
                row.id,
                platform.get("node"),
                version,
                system.get("executable"),
                json.dumps(system, default=str),
            )
        else:
            values = tuple(
                getattr(row, c) for c in target.columns if c not in ("night", "source_format")
            )
            if target.json_columns:
                values = tuple(
                    json.dumps(v, default=str)
                    if (c in target.json_columns and v is not None)
                    else v
                    for c, v in zip(target.columns, values, strict=False)
                )
            if target.row_type is r.SessionRow:
                values = (*values, _night(row.observation_date), self.source_format)
        return (self._seq, *values)

    # -------------------------------------------------------------- writing

    def _create_staging(self) -> None:
        with self.conn.cursor() as cur:
            for t in TABLES:
                cols = ", ".join(t.columns)
                cur.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {_stage(t.table)} ON COMMIT DROP AS "
                    f"SELECT 0::bigint AS seq, {cols} FROM {t.table} WITH NO DATA"
                )
        self._staged = True

    def flush(self) -> None:
        """Write every buffered row to the archive (inside the caller's transaction)."""
        if not self._pending:
            return
        if not self._staged:
            self._create_staging()
        with self.conn.cursor() as cur:
            for t in TABLES:
                rows = self._buffers[t]
                if not rows:
                    continue
                stage = _stage(t.table)
                with cur.copy(f"COPY {stage} (seq, {', '.join(t.columns)}) FROM STDIN") as cp:
                    for values in rows:
                        cp.write_row(values)
            # objects first, then bare targets of relations, then relations
            for t in TABLES:
                if t.key is not None and self._buffers[t]:
                    self._merge_objects(cur, t)
            self._create_bare_targets(cur)
            for t in TABLES:
                if t.key is None and self._buffers[t]:
                    self._insert_relations(cur, t)
            for t in TABLES:
                if self._buffers[t]:
                    cur.execute(f"TRUNCATE {_stage(t.table)}")
                    self._buffers[t] = []
        self._pending = 0

    def _merge_objects(self, cur: psycopg.Cursor, t: _Target) -> None:
        key = t.key[0]  # type: ignore[index]
        others = [c for c in t.columns if c != key]
        picks = ", ".join(
            f"(array_agg({c} ORDER BY seq) FILTER (WHERE {c} IS NOT NULL))[1]" for c in others
        )
        updates = ", ".join(f"{c} = COALESCE(t.{c}, EXCLUDED.{c})" for c in others)
        cur.execute(
            f"INSERT INTO {t.table} AS t ({key}, {', '.join(others)}) "
            f"SELECT {key}, {picks} FROM {_stage(t.table)} GROUP BY {key} "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates} "
            "RETURNING (xmax = 0)"
        )
        inserted = sum(1 for (new,) in cur.fetchall() if new)
        distinct = self._count_distinct(cur, t, key)
        self.inserted[t.table] += inserted
        self.known[t.table] += distinct - inserted

    def _count_distinct(self, cur: psycopg.Cursor, t: _Target, key: str) -> int:
        cur.execute(f"SELECT count(DISTINCT {key}) FROM {_stage(t.table)}")
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def _create_bare_targets(self, cur: psycopg.Cursor) -> None:
        active = {t.table for t in TABLES if self._buffers[t]}
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
            cur.execute(sql + "ON CONFLICT DO NOTHING")
            self.inserted[f"{target} (bare)"] += cur.rowcount

    def _insert_relations(self, cur: psycopg.Cursor, t: _Target) -> None:
        cols = ", ".join(t.columns)
        cur.execute(
            f"INSERT INTO {t.table} ({cols}) SELECT DISTINCT {cols} FROM {_stage(t.table)} "
            "ON CONFLICT DO NOTHING"
        )
        inserted = cur.rowcount
        cur.execute(f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM {_stage(t.table)}) s")
        row = cur.fetchone()
        offered = int(row[0]) if row else 0
        self.inserted[t.table] += inserted
        self.known[t.table] += max(offered - inserted, 0)
