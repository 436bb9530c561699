"""Quality and consistency rules over the archive: ``provdb check``.

Each rule is **one set-based SQL statement** over a *scope* of entities (the whole
archive, one night, one run, one product, or the set an ingest touched, see
:mod:`provdb.answers.flags`). A rule returns :class:`Finding` rows:

=================  ========  ===============================================================
rule               severity  what it finds
=================  ========  ===============================================================
stale              warning   a product generated before one of its ancestors was regenerated:
                             an ancestor (archive.lineage) has a generation whose activity
                             started after the start of the product's latest generation
mixed-versions     warning   its lineage (activities generating it and its ancestors) ran
                             more than one version of a tracked package (:data:`TRACKED`)
failed-ancestor    error     an activity of its lineage (its own generation included) failed
                             (status error/interrupted, exit code <> 0) or started and never
                             ended; a failed activity that generated nothing is reported
                             itself (subject kind ``activity``)
missing-input      warning   an ancestor that no activity of the archive generated and that
                             is not raw data (:data:`RAW_NAMES`, :data:`RAW_LOCATION`)
hash-conflict      error     more distinct content hashes of one type than generations (the
                             file changed outside the recorded provenance)
incomplete-run     warning   a run whose subruns did not all reach a step that others reached
                             (subject kind ``run``, id ``<YYYYMMDD>_<run>``)
=================  ========  ===============================================================

Versions counted by ``mixed-versions``: the ``archive.software`` rows of the sessions of
the lineage's activities for the packages of :data:`TRACKED`. Per session and package,
the version the session *declares* (lstosa's software_version, a ctapipe tool's
version) wins; the environment's package list counts only for the packages the session
does not declare (an lstosa session declares lstchain and its environment holds
ctapipe; a ctapipe tool's session declares ctapipe and its environment holds lstchain).
Other environment packages (numpy, astropy...) are ignored: mixing them is not a
data-quality question.

The raw list (entities a pipeline consumes but never makes, so not ``missing-input``)
follows lstosa's definition of the entities (``definition.yaml``): R0 data (``R0*``,
``RawObservationFile``), the run summary and the pointing files, the time calibration and
systematic correction files (produced once per campaign, outside the night's pipeline),
configuration files, and any ``*.fits.fz`` file (raw CTA R0/R1 format).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from provdb.cursor import cursor
from provdb.errors import ProvdbError
from provdb.lineage.traverse import execute
from provdb.schema.core import failed_activity_sql

__all__ = [
    "ENTITY_RULES",
    "RAW_LOCATION",
    "RAW_NAMES",
    "RULES",
    "SEVERITIES",
    "TRACKED",
    "CheckError",
    "CheckReport",
    "Finding",
    "acts_sql",
    "entity_findings",
    "finding_order",
    "night_session_findings",
    "rule_sql",
    "run_checks",
]

#: rule -> severity
RULES: dict[str, str] = {
    "stale": "warning",
    "mixed-versions": "warning",
    "failed-ancestor": "error",
    "missing-input": "warning",
    "hash-conflict": "error",
    "incomplete-run": "warning",
}
#: the rules kept as per-product flags in archive.product_flag
ENTITY_RULES = ("stale", "mixed-versions", "failed-ancestor", "missing-input", "hash-conflict")
#: most severe first
SEVERITIES = ("error", "warning", "info")

#: packages whose versions must not be mixed in one lineage
TRACKED = ("lstchain", "ctapipe", "ctapipe_io_lst")
#: entity names (lstosa entity descriptions) of raw / externally made inputs
RAW_NAMES = (
    "RawObservationFile",
    "RunSummaryFile",
    "PointingFile",
    "TimeCalibrationFile",
    "SystematicCorrectionFile",
    "AnalysisConfigFile",
    "Parameters",
    "config.json",
)
#: names starting with R0 (R0SubrunDataset, R0Collection) and raw file paths are raw too
RAW_NAME_PATTERN = r"^R0"
RAW_LOCATION = r"\.fits\.fz$"


class CheckError(ProvdbError, ValueError):
    """Bad arguments to :func:`run_checks` (unknown id, malformed night or run)."""


@dataclass(frozen=True)
class Finding:
    """One rule broken by one subject."""

    rule: str
    severity: str
    subject_kind: str  # entity, activity or run
    subject_id: str
    detail: str
    cause_id: str | None = None
    location: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the keys documented in docs/answers.md)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "subject_kind": self.subject_kind,
            "subject_id": self.subject_id,
            "location": self.location,
            "detail": self.detail,
            "cause_id": self.cause_id,
        }


@dataclass
class CheckReport:
    """Findings of a check and their counts."""

    findings: list[Finding] = field(default_factory=list)
    rules: tuple[str, ...] = tuple(RULES)
    scope: str = "archive"
    n_subjects: int = 0

    @property
    def by_rule(self) -> dict[str, int]:
        """Number of findings per rule (every checked rule, zeros included)."""
        counts = Counter(f.rule for f in self.findings)
        return {r: counts.get(r, 0) for r in self.rules}

    @property
    def by_severity(self) -> dict[str, int]:
        """Number of findings per severity."""
        counts = Counter(f.severity for f in self.findings)
        return {s: counts.get(s, 0) for s in SEVERITIES}

    def worst(self) -> str | None:
        """Most severe severity found, or None."""
        found = self.by_severity
        return next((s for s in SEVERITIES if found[s]), None)

    def summary(self) -> dict[str, Any]:
        """The ``summary`` object of the JSON output."""
        return {
            "scope": self.scope,
            "products_checked": self.n_subjects,
            "findings": len(self.findings),
            "by_rule": self.by_rule,
            "by_severity": self.by_severity,
        }


# ----------------------------------------------------------------------------- SQL

_RAW = (
    f"(e.name = ANY(%(raw_names)s) OR e.name ~ '{RAW_NAME_PATTERN}' "
    f"OR e.location ~ '{RAW_LOCATION}')"
)

_SCOPE_ALL = "scope AS (SELECT id AS entity_id FROM provenance.entity)"
_SCOPE_IDS = "scope AS (SELECT DISTINCT unnest(%(ids)s::text[]) AS entity_id)"

# product + its ancestors, and the activities generating any of them
_LINEAGE = """
lin AS (
    SELECT entity_id AS pid, entity_id AS eid, true AS own FROM scope
    UNION ALL
    SELECT l.entity_id, l.ancestor_id, false
    FROM archive.lineage l WHERE l.entity_id {of_scope}
), acts AS (
    SELECT lin.pid, g.activity_id, bool_or(lin.own) AS own
    FROM lin JOIN provenance.wasgeneratedby g ON g.entity_id = lin.eid
    GROUP BY lin.pid, g.activity_id
)"""

#: an ancestor ``e`` that nothing in the archive generated and that is not raw data
_MISSING_ANCESTOR = (
    "NOT EXISTS (SELECT 1 FROM provenance.wasgeneratedby g WHERE g.entity_id = e.id) "
    "AND NOT " + _RAW
)

#: "missing-input"'s ``missing`` rows (product, missing ancestor) for a scope of some
#: entities: each distinct ancestor looked at once, a night's products sharing most of
#: theirs (its ~15,000 products have ~214,000 closure rows)
_MISSING_BY_ANCESTOR = (
    """lin AS MATERIALIZED (
    SELECT l.entity_id, l.ancestor_id, l.depth FROM archive.lineage l
    WHERE l.entity_id = ANY(ARRAY(SELECT entity_id FROM scope))
), bad AS MATERIALIZED (
    SELECT e.id, e.name, e.location FROM provenance.entity e
    WHERE e.id = ANY(ARRAY(SELECT DISTINCT ancestor_id FROM lin)) AND """
    + _MISSING_ANCESTOR
    + """
), missing AS (
    SELECT lin.entity_id, lin.ancestor_id, lin.depth, bad.name, bad.location
    FROM lin JOIN bad ON bad.id = lin.ancestor_id
)"""
)
#: ... over the whole archive: every closure row joined as it streams (materialized,
#: the whole closure would be written to temporary files)
_MISSING_STREAMED = (
    """missing AS (
    SELECT l.entity_id, l.ancestor_id, l.depth, e.name, e.location
    FROM archive.lineage l
    JOIN provenance.entity e ON e.id = l.ancestor_id
    WHERE l.entity_id IN (SELECT entity_id FROM scope) AND """
    + _MISSING_ANCESTOR
    + """
)"""
)

_SQL: dict[str, str] = {
    "stale": """
WITH {scope}, latest AS (
    SELECT DISTINCT ON (g.entity_id) g.entity_id, a.id AS activity_id, a.name, a.start_time
    FROM provenance.wasgeneratedby g
    JOIN provenance.activity a ON a.id = g.activity_id
    WHERE g.entity_id {of_scope} AND a.start_time IS NOT NULL
    ORDER BY g.entity_id, a.start_time DESC, a.id
), anc AS MATERIALIZED (
    SELECT p.entity_id, p.name, p.start_time, l.ancestor_id
    FROM {latest_ancestors}
), regenerated AS MATERIALIZED (
    -- the ancestors generated after the earliest of their descendants here: each
    -- distinct ancestor's latest generation looked up once (a night's ~15,000 products
    -- share most of their ~214,000 closure rows' ancestors), and few of them pass
    SELECT x.ancestor_id, y.last_start
    FROM (SELECT ancestor_id, min(start_time) AS first_start FROM anc GROUP BY ancestor_id) x
    CROSS JOIN LATERAL (
        SELECT max(a.start_time) AS last_start
        FROM provenance.wasgeneratedby g JOIN provenance.activity a ON a.id = g.activity_id
        WHERE g.entity_id = x.ancestor_id
    ) y
    WHERE y.last_start > x.first_start
)
-- each ancestor's first generation after the product's, looked up by index (LATERAL)
-- for those pairs only: planned as a join of the scope with every generation of the
-- archive, this statement grew with the archive (88 s for one night's products after 5
-- nights; bench_year.py)
SELECT DISTINCT ON (p.entity_id) p.entity_id AS subject, p.ancestor_id AS cause,
       format('generated by %%s at %%s, before its ancestor %%s was regenerated by %%s at %%s',
              p.name, p.start_time, coalesce(e.location, e.id), r.name, r.start_time) AS detail
FROM anc p
JOIN regenerated n ON n.ancestor_id = p.ancestor_id AND n.last_start > p.start_time
CROSS JOIN LATERAL (
    SELECT a.name, a.start_time
    FROM provenance.wasgeneratedby g JOIN provenance.activity a ON a.id = g.activity_id
    WHERE g.entity_id = p.ancestor_id AND a.start_time > p.start_time
    ORDER BY a.start_time LIMIT 1
) r
JOIN provenance.entity e ON e.id = p.ancestor_id
ORDER BY p.entity_id, p.ancestor_id, r.start_time
""",
    "mixed-versions": """
WITH {scope}, {lineage},
-- the sessions of the lineage's activities and their tracked versions, each looked up by
-- index from the distinct ids (= ANY(ARRAY(...))): joined directly, the planner hashed
-- every activity and every tracked software row of the archive, so this rule grew with
-- the archive (6.4 s for one full-size night's products after 200 nights; bench_year.py)
sess AS MATERIALIZED (
    SELECT a.id AS activity_id, a.session_id
    FROM provenance.activity a
    WHERE a.id = ANY(ARRAY(SELECT DISTINCT activity_id FROM acts))
), sw AS MATERIALIZED (
    SELECT w.session_id, w.package, w.version
    FROM archive.software w
    WHERE w.session_id = ANY(ARRAY(SELECT DISTINCT session_id FROM sess))
      AND w.package = ANY(%(tracked)s)
      -- a version the session declares wins over its environment's list
      AND (w.source <> 'environment' OR NOT EXISTS (
          SELECT 1 FROM archive.software d
          WHERE d.session_id = w.session_id AND d.package = w.package
            AND d.source <> 'environment'))
), vers AS (
    SELECT acts.pid, sw.package, sw.version, bool_or(acts.own) AS own,
           min(acts.activity_id) AS activity_id
    FROM acts
    JOIN sess ON sess.activity_id = acts.activity_id
    JOIN sw ON sw.session_id = sess.session_id
    GROUP BY acts.pid, sw.package, sw.version
), mixed AS (
    SELECT pid, package, string_agg(version, ', ' ORDER BY version) AS versions,
           coalesce(min(activity_id) FILTER (WHERE NOT own), min(activity_id)) AS cause
    FROM vers GROUP BY pid, package HAVING count(*) > 1
)
SELECT pid AS subject, min(cause) AS cause,
       'lineage ran ' || string_agg(package || ' ' || versions, '; ' ORDER BY package)
           AS detail
FROM mixed GROUP BY pid
""",
    "failed-ancestor": """
WITH {scope}, {lineage}
SELECT DISTINCT ON (acts.pid) acts.pid AS subject, a.id AS cause,
       format('%%s activity %%s (%%s) %%s', CASE WHEN acts.own THEN 'its own' ELSE 'ancestor' END,
              coalesce(a.name, '?'), a.id,
              CASE WHEN a.status IN ('error', 'interrupted') OR a.exit_code <> 0
                   THEN format('failed: status %%s, exit code %%s',
                               coalesce(a.status, '-'), coalesce(a.exit_code::text, '-'))
                   ELSE format('started at %%s and never ended', a.start_time) END) AS detail
FROM acts JOIN provenance.activity a ON a.id = acts.activity_id
-- the predicate of the partial index ix_activity_failed (migration 0018), so that the
-- archive's few failed activities are an index lookup, not a scan of every activity
WHERE """
    + failed_activity_sql("a")
    + """
ORDER BY acts.pid, a.start_time, a.id
""",
    "missing-input": """
WITH {scope}, {missing}
SELECT DISTINCT ON (entity_id) entity_id AS subject, ancestor_id AS cause,
       format('input %%s (%%s) is not raw data and nothing in the archive generated it%%s',
              coalesce(location, ancestor_id), coalesce(name, 'no name'),
              CASE WHEN count(*) OVER (PARTITION BY entity_id) > 1
                   THEN format(' (+%%s more)', count(*) OVER (PARTITION BY entity_id) - 1)
                   ELSE '' END) AS detail
FROM missing
ORDER BY entity_id, depth, ancestor_id
""",
    "hash-conflict": """
WITH {scope}, hashes AS (
    SELECT h.entity_id, h.hash_type, count(*) AS n_hashes,
           (SELECT count(*) FROM provenance.wasgeneratedby g
            WHERE g.entity_id = h.entity_id) AS n_generations
    FROM archive.entity_hash h WHERE h.entity_id {of_scope}
    GROUP BY h.entity_id, h.hash_type
)
SELECT DISTINCT ON (entity_id) entity_id AS subject, entity_id AS cause,
       format('%%s distinct %%s content hashes for %%s generation(s): the file changed '
              'outside the recorded provenance', n_hashes, hash_type, n_generations) AS detail
FROM hashes
WHERE n_hashes > greatest(n_generations, 1)
ORDER BY entity_id, hash_type
""",
}

# failed activities that generated nothing: reported themselves
_FAILED_ACTIVITIES = """
SELECT a.id AS subject, a.id AS cause,
       format('activity %%s failed: status %%s, exit code %%s (generated nothing)',
              coalesce(a.name, '?'), coalesce(a.status, '-'), coalesce(a.exit_code::text, '-'))
           AS detail
FROM provenance.activity a
LEFT JOIN archive.processing_session s ON s.id = a.session_id
WHERE (a.status IN ('error', 'interrupted') OR a.exit_code <> 0)
  AND NOT EXISTS (SELECT 1 FROM provenance.wasgeneratedby g WHERE g.activity_id = a.id)
  AND {where}
ORDER BY a.id
"""

_INCOMPLETE_RUN = r"""
WITH steps AS (
    SELECT DISTINCT s.night, ltrim(s.observation_run, '0') AS run, a.name AS step,
           substring(e.location from 'Run[0-9]+\.([0-9]{{4}})') AS subrun
    FROM archive.processing_session s
    JOIN provenance.activity a ON a.session_id = s.id
    JOIN provenance.wasgeneratedby g ON g.activity_id = a.id
    JOIN provenance.entity e ON e.id = g.entity_id
    WHERE s.night IS NOT NULL AND s.observation_run IS NOT NULL AND a.name IS NOT NULL
      AND ltrim(substring(e.location from 'Run([0-9]+)\.[0-9]{{4}}'), '0')
          = ltrim(s.observation_run, '0')
      AND {where}
), every AS (
    SELECT night, run, array_agg(DISTINCT subrun ORDER BY subrun) AS subruns
    FROM steps GROUP BY night, run
), per_step AS (
    SELECT night, run, step, array_agg(DISTINCT subrun ORDER BY subrun) AS subruns
    FROM steps GROUP BY night, run, step
)
SELECT to_char(p.night, 'YYYYMMDD') || '_' || lpad(p.run, 5, '0') AS subject, p.step,
       ARRAY(SELECT unnest(e.subruns) EXCEPT SELECT unnest(p.subruns) ORDER BY 1) AS missing,
       cardinality(p.subruns) AS reached, cardinality(e.subruns) AS total
FROM per_step p JOIN every e USING (night, run)
WHERE cardinality(p.subruns) < cardinality(e.subruns)
ORDER BY 1, 2
"""


def _rows(cur: Any, sql: str, params: dict[str, Any]) -> list[tuple]:
    execute(cur, sql, params)
    return cur.fetchall()


def _params(ids: Sequence[str] | None) -> dict[str, Any]:
    return {"ids": list(ids or []), "raw_names": list(RAW_NAMES), "tracked": list(TRACKED)}


def _scope_sql(scope_table: str | None, ids: Sequence[str] | None) -> tuple[str, str]:
    """The ``scope`` CTE (``scope_table``, else ``ids``, else every entity) and the
    condition that restricts an entity id column to it."""
    if scope_table is not None:
        scope = f"scope AS (SELECT entity_id FROM {scope_table})"
    else:
        scope = _SCOPE_ALL if ids is None else _SCOPE_IDS
    # a scope of some entities (a file's, an id list): its rows are looked up by index;
    # as a join the planner scanned the whole closure and hashed it against the scope,
    # a cost per ingested file growing with the archive (bench/bench_year.py)
    of_scope = (
        "IN (SELECT entity_id FROM scope)"
        if scope == _SCOPE_ALL
        else "= ANY(ARRAY(SELECT entity_id FROM scope))"
    )
    return scope, of_scope


def rule_sql(
    rule: str,
    *,
    scope_table: str | None = None,
    ids: Sequence[str] | None = None,
    acts_table: str | None = None,
):
    """The statement of an entity rule and its parameters.

    The scope is ``scope_table`` (a table with an ``entity_id`` column), else ``ids``,
    else every entity. The statement returns ``(subject, cause, detail)`` rows.
    ``acts_table`` (with ``scope_table``): a table written by :func:`acts_sql` for that
    scope, which the rules that need the lineage's activities read instead of computing
    them inside their statement.
    """
    scope, of_scope = _scope_sql(scope_table, ids)
    # the products' closure rows: for a scope of some entities, looked up per product
    # (LATERAL, OFFSET 0: never flattened). As a join that also carried the scope's
    # id array, the planner could put the closure on the inner side of a nested loop
    # with that array in its index condition, re-read for each of a night's 15,000
    # products: 163 s for one night's flags on a young archive (bench_year.py
    # --explain-nights; bench/results/2026-12-07-year-young-*.json)
    latest_ancestors = (
        "archive.lineage l JOIN latest p ON p.entity_id = l.entity_id "
        "WHERE l.entity_id IN (SELECT entity_id FROM scope)"
        if scope == _SCOPE_ALL
        else "latest p CROSS JOIN LATERAL (SELECT ancestor_id FROM archive.lineage "
        "WHERE entity_id = p.entity_id OFFSET 0) l"
    )
    lineage = (
        _LINEAGE.format(of_scope=of_scope)
        if acts_table is None
        else f"acts AS (SELECT pid, activity_id, own FROM {acts_table})"
    )
    missing = _MISSING_STREAMED if scope == _SCOPE_ALL else _MISSING_BY_ANCESTOR
    sql = _SQL[rule].format(
        scope=scope,
        lineage=lineage,
        of_scope=of_scope,
        latest_ancestors=latest_ancestors,
        missing=missing,
    )
    return sql, _params(ids)


def acts_sql(scope_table: str) -> str:
    """A query of the activities that generated each entity of ``scope_table`` or one of
    its ancestors (``pid``, ``activity_id``, ``own``): what "mixed-versions" and
    "failed-ancestor" start from, to be written into a table for :func:`rule_sql`'s
    ``acts_table``."""
    scope, of_scope = _scope_sql(scope_table, None)
    lineage = _LINEAGE.format(of_scope=of_scope)
    return f"WITH {scope}, {lineage} SELECT pid, activity_id, own FROM acts"


def entity_findings(
    cur: Any, ids: Sequence[str] | None, rules: Sequence[str] = ENTITY_RULES
) -> Iterator[Finding]:
    """Run the entity rules over ``ids`` (None: every entity), one statement per rule.

    Parameters
    ----------
    cur
        A psycopg cursor.
    ids
        The entities to check, or None for the whole archive.
    rules
        Entity rules to run (a subset of :data:`ENTITY_RULES`).

    Yields
    ------
    Finding
        Subject kind ``entity``, ``cause_id`` the first culprit in a stable order.
    """
    for rule in rules:
        if rule not in ENTITY_RULES:
            continue
        sql, params = rule_sql(rule, ids=ids)
        for subject, cause, detail in _rows(cur, sql, params):
            yield Finding(rule, RULES[rule], "entity", subject, detail, cause)


# ----------------------------------------------------------------------------- scope

_NIGHT = re.compile(r"^\d{8}$")
_RUN = re.compile(r"^(?:(\d{8})_)?(\d{1,6})$")


def _night(value: str) -> date:
    if not _NIGHT.match(value):
        raise CheckError(f"night {value!r} is not YYYYMMDD (e.g. 20200117)")
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise CheckError(f"night {value!r} is not a date (YYYYMMDD, e.g. 20200117)") from None


def _session_where(night: date | None, run: str | None) -> tuple[str, dict[str, Any]]:
    clauses, params = ["true"], {}
    if night is not None:
        clauses.append("s.night = %(night)s")
        params["night"] = night
    if run is not None:
        clauses.append("ltrim(s.observation_run, '0') = %(run)s")
        params["run"] = run
    return " AND ".join(clauses), params


def run_checks(
    conn: Any,
    *,
    night: str | None = None,
    run: str | None = None,
    ident: str | None = None,
    rules: Sequence[str] | None = None,
) -> CheckReport:
    """Check the archive, a night, a run or one product against the rules.

    Parameters
    ----------
    conn
        psycopg connection, SQLAlchemy Connection or Engine.
    night
        ``YYYYMMDD``: products generated by the sessions of that night.
    run
        Run number (``1807``, ``01807``) or run id ``<YYYYMMDD>_<run>``.
    ident
        An entity id (md5 hex digest of the path for lstosa files): that product only
        (the run rule is not run).
    rules
        Rules to run (default: all of :data:`RULES`).

    Returns
    -------
    CheckReport
        Findings sorted by severity, rule and subject, with counts.

    Raises
    ------
    CheckError
        Unknown rule or id, malformed night or run, or a night/run with no activity.
    """
    chosen = tuple(rules) if rules else tuple(RULES)
    unknown = [r for r in chosen if r not in RULES]
    if unknown:
        raise CheckError(f"unknown rule {unknown[0]!r}: choose among {', '.join(RULES)}")
    the_night = _night(night) if night else None
    the_run = None
    if run is not None:
        m = _RUN.match(run.strip())
        if not m:
            raise CheckError(f"run {run!r} is not a run number (1807) or run id (20200117_01807)")
        if m.group(1):
            the_night = _night(m.group(1))
        the_run = m.group(2).lstrip("0") or "0"
    where, params = _session_where(the_night, the_run)
    report = CheckReport(rules=chosen)
    with cursor(conn) as cur:
        ids: list[str] | None = None
        if ident is not None:
            found = _rows(cur, "SELECT id FROM provenance.entity WHERE id = %(i)s", {"i": ident})
            if not found:
                raise CheckError(
                    f"no entity with id {ident!r}: entity ids are the md5 hex digest of the "
                    "file path (32 hex digits); find them with provdb lineage or the UI"
                )
            ids, report.scope = [ident], f"entity {ident}"
        elif the_night is not None or the_run is not None:
            ids = [
                r[0]
                for r in _rows(
                    cur,
                    "SELECT DISTINCT g.entity_id FROM archive.processing_session s "
                    "JOIN provenance.activity a ON a.session_id = s.id "
                    "JOIN provenance.wasgeneratedby g ON g.activity_id = a.id "
                    f"WHERE {where}",
                    params,
                )
            ]
            if not ids:
                what = " ".join(
                    x
                    for x in (
                        f"night {night}" if night else "",
                        f"run {run}" if run else "",
                    )
                    if x
                )
                raise CheckError(
                    f"no processed product for {what}: check the night (YYYYMMDD) and "
                    "run number with provdb stats or the UI's home page"
                )
            report.scope = " ".join(
                x for x in (f"night {night}" if night else "", f"run {run}" if run else "") if x
            )
        if ids is None:
            report.n_subjects = _rows(cur, "SELECT count(*) FROM provenance.entity", {})[0][0]
        else:
            report.n_subjects = len(ids)
        found_list = list(entity_findings(cur, ids, chosen))
        if ident is None:
            found_list += _session_findings(cur, where, params, chosen)
        _locate(cur, found_list)
    report.findings = sorted(found_list, key=finding_order)
    return report


def finding_order(finding: Finding) -> tuple[int, str, str, str]:
    """Sort key of a report's findings: most severe first, then rule, subject, detail."""
    return (SEVERITIES.index(finding.severity), finding.rule, finding.subject_id, finding.detail)


def _session_findings(
    cur: Any, where: str, params: dict[str, Any], chosen: Sequence[str]
) -> list[Finding]:
    """The findings that are not a product's: failed activities that generated nothing
    and incomplete runs, for the sessions ``where`` selects."""
    found: list[Finding] = []
    if "failed-ancestor" in chosen:
        sql = _FAILED_ACTIVITIES.format(where=where)
        for subject, cause, detail in _rows(cur, sql, params):
            found.append(Finding("failed-ancestor", "error", "activity", subject, detail, cause))
    if "incomplete-run" in chosen:
        for subject, step, missing, reached, total in _rows(
            cur, _INCOMPLETE_RUN.format(where=where), params
        ):
            detail = (
                f"{step} missing for subrun(s) {', '.join(missing)} "
                f"({reached} of {total} subruns reached it)"
            )
            found.append(Finding("incomplete-run", "warning", "run", subject, detail))
    return found


def night_session_findings(
    conn: Any, night: str, rules: Sequence[str] | None = None
) -> list[Finding]:
    """What ``run_checks(night=...)`` finds besides the products' own rules.

    The product rules are kept per product in ``archive.product_flag`` (read those for a
    night at archive scale, as the UI's night page does); these findings are of
    activities (failed, generated nothing) and runs (incomplete), so they have no flag.

    Raises
    ------
    CheckError
        A malformed night.
    """
    where, params = _session_where(_night(night), None)
    with cursor(conn) as cur:
        return _session_findings(cur, where, params, tuple(rules) if rules else tuple(RULES))


def _locate(cur: Any, findings: list[Finding]) -> None:
    """Add the entities' locations (one query for all)."""
    ids = sorted({f.subject_id for f in findings if f.subject_kind == "entity"})
    if not ids:
        return
    execute(cur, "SELECT id, location FROM provenance.entity WHERE id = ANY(%s)", (ids,))
    where = dict(cur.fetchall())
    for i, f in enumerate(findings):
        if f.subject_kind == "entity":
            findings[i] = Finding(
                f.rule,
                f.severity,
                f.subject_kind,
                f.subject_id,
                f.detail,
                f.cause_id,
                where.get(f.subject_id),
            )
