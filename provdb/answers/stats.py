"""Timing and failures of the pipeline's activities: ``provdb stats`` and ``/ui/stats``.

:func:`activity_stats` answers "which steps are slow, what failed, what never ended"
for a night, a run or the whole archive, grouped by step (activity name), run or night:

* per group: activity count, completed / failed / never-ended counts, durations in
  seconds (median, p95, max, total; PostgreSQL ``percentile_cont``, i.e. linear
  interpolation, as Python's ``statistics.quantiles(method="inclusive")``), first start
  and last end;
* the N slowest activities, the failures and the activities that never ended.

What counts (the same rules in every query here):

* **failed**: ``status`` is ``error``, ``interrupted`` or ``failed``, or a non-zero
  ``exit_code`` (ctapipe records both; lstosa records no failure: a failed lstosa call
  logs nothing);
* **never ended**: not failed and no ``end_time`` (crashed, killed, or still running);
* **completed**: the rest (an end time and no failure);
* durations are ``end_time - start_time`` of the activities that have both;
* activities without a start time (only referenced by a relation, never declared) are
  left out, and so are lstosa's run-wise summaries (sessions ``lstosa-run-wise`` and
  run-wise PROV-JSON, i.e. a W3C session with an ``observation_run``): provprocess
  made them from the same night's ``prov.log``, they would count its work twice.
  Activities without a session (a log holding no session record) have no night or
  run: they count only in archive-wide stats, in group ``-`` of ``by="night"``;
* a **run** is lstosa's ``<YYYYMMDD>_<run>`` (:data:`archive.run_activity`): a run's
  activities are those of its sessions plus the calibration of its night, so with
  ``by="run"`` a night's calibration activities count in each of its runs (the
  overall summary counts them once).

:func:`timeline` returns every activity of a night or run with its interval, for the
timeline plot (:func:`provdb.answers.plots.timeline_svg`).

Each question is one set-based SQL statement. The functions take a psycopg 3
connection, a SQLAlchemy ``Connection`` or an ``Engine``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from provdb.cursor import cursor
from provdb.errors import ProvdbError
from provdb.lineage.traverse import execute

__all__ = [
    "BY",
    "ActivityRow",
    "GroupStats",
    "StatsError",
    "StatsReport",
    "activity_stats",
    "parse_night",
    "parse_run",
    "timeline",
]

#: Groupings of :func:`activity_stats`.
BY = ("step", "run", "night")
#: Statuses that mean the activity failed (ctapipe: ``error``, ``interrupted``).
FAILED_STATUSES = ("error", "interrupted", "failed")
#: Failures and never-ended activities listed at most (their counts are always exact).
MAX_LISTED = 500


class StatsError(ProvdbError):
    """A bad ``night``, ``run``, ``by`` or ``top``; the message says what exists."""


@dataclass(frozen=True)
class GroupStats:
    """Counts and durations (seconds) of one group of activities."""

    group: str
    activities: int
    completed: int
    failed: int
    never_ended: int
    median_s: float | None
    p95_s: float | None
    max_s: float | None
    total_s: float | None
    first_start: dt.datetime | None
    last_end: dt.datetime | None


@dataclass(frozen=True)
class ActivityRow:
    """One activity as listed (slowest, failures, timeline); times are UTC."""

    id: str
    name: str | None
    night: str | None
    run: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    duration_s: float | None
    state: str  # completed | failed | never_ended
    status: str | None
    exit_code: int | None


@dataclass(frozen=True)
class StatsReport:
    """The answer of :func:`activity_stats`."""

    night: str | None
    run: str | None
    by: str
    top: int
    summary: GroupStats
    groups: list[GroupStats]
    slowest: list[ActivityRow]
    failures: list[ActivityRow]
    never_ended: list[ActivityRow]
    nights: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- arguments

_NIGHT = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_RUN = re.compile(r"^(?:(\d{8})_)?(\d{1,6})$")


def parse_night(text: str | dt.date | None) -> dt.date | None:
    """The night ``YYYYMMDD`` (or ``YYYY-MM-DD``) as a date; ``None`` stays ``None``.

    >>> parse_night("20200117")
    datetime.date(2020, 1, 17)
    """
    if text is None or text == "":
        return None
    if isinstance(text, dt.date):
        return text
    m = _NIGHT.match(str(text).strip())
    try:
        if m is None:
            raise ValueError
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise StatsError(
            f"night {text!r} is not a date YYYYMMDD: give e.g. --night 20200117"
        ) from None


def parse_run(text: str | int | None) -> tuple[str | None, str] | None:
    """``(observation_date or None, 5-digit run)`` of ``01807``, ``1807`` or ``20200117_01807``.

    >>> parse_run("20200117_1807")
    ('20200117', '01807')
    """
    if text is None or text == "":
        return None
    m = _RUN.match(str(text).strip())
    if m is None:
        raise StatsError(
            f"run {text!r} is not a run number: give e.g. --run 01807 or --run 20200117_01807"
        )
    return m[1], m[2].zfill(5)


def _night_text(night: dt.date | None) -> str | None:
    return night.strftime("%Y%m%d") if night else None


def _run_text(run: tuple[str | None, str] | None) -> str | None:
    if run is None:
        return None
    return f"{run[0]}_{run[1]}" if run[0] else run[1]


# ----------------------------------------------------------------------------- SQL

#: Sessions that repeat work already logged elsewhere (see the module docstring).
_COUNTED_SESSION = (
    "(s.id IS NULL OR (s.source_format IS DISTINCT FROM 'lstosa-run-wise' "
    "AND NOT (s.source_format LIKE 'prov-%%' AND s.observation_run IS NOT NULL)))"
)

#: lstosa sessions -> run ids: a run's own sessions, and its night's calibration sessions.
_RUN_MAP = """
run_map AS (
    SELECT s.id AS session_id, s.observation_date || '_' || s.observation_run AS run_id
    FROM archive.processing_session s
    WHERE s.source_format = 'lstosa' AND s.observation_run IS NOT NULL {run_filter}
    UNION ALL
    SELECT c.id, r.observation_date || '_' || r.observation_run
    FROM archive.processing_session c
    JOIN (SELECT DISTINCT observation_date, observation_run
          FROM archive.processing_session s
          WHERE s.source_format = 'lstosa' AND s.observation_run IS NOT NULL {run_filter}) r
      ON r.observation_date = c.observation_date
    WHERE c.source_format = 'lstosa' AND c.observation_run IS NULL
      AND c.pedestal_run IS NOT NULL
)"""

_STATE = (
    "CASE WHEN a.status = ANY(%(failed_statuses)s::text[]) "
    "OR COALESCE(a.exit_code, 0) <> 0 THEN 'failed' "
    "WHEN a.end_time IS NULL THEN 'never_ended' ELSE 'completed' END"
)


def _base_cte(*, night: dt.date | None, run: tuple[str | None, str] | None) -> str:
    """``run_map`` and ``base`` (one row per counted activity) for the given filters."""
    run_filter = ""
    if run is not None:
        run_filter = "AND s.observation_run = %(run)s"
        if run[0] is not None:
            run_filter += " AND s.observation_date = %(run_date)s"
    if night is not None:
        run_filter += " AND s.night = %(night)s"
    where = ["a.start_time IS NOT NULL", _COUNTED_SESSION]
    if night is not None:
        where.append("s.night = %(night)s")
    if run is not None:
        where.append("a.session_id IN (SELECT session_id FROM run_map)")
    return f"""WITH {_RUN_MAP.format(run_filter=run_filter)},
base AS (
    SELECT a.id, a.name, a.start_time, a.end_time, a.status, a.exit_code, a.session_id,
           to_char(s.night, 'YYYYMMDD') AS night,
           CASE WHEN s.observation_run IS NOT NULL AND s.source_format = 'lstosa'
                THEN s.observation_date || '_' || s.observation_run END AS run_id,
           EXTRACT(EPOCH FROM a.end_time - a.start_time)::float8 AS duration,
           {_STATE} AS state
    FROM provenance.activity a
    LEFT JOIN archive.processing_session s ON s.id = a.session_id
    WHERE {" AND ".join(where)}
)"""


_AGGREGATES = """count(*) AS activities,
    count(*) FILTER (WHERE state = 'completed') AS completed,
    count(*) FILTER (WHERE state = 'failed') AS failed,
    count(*) FILTER (WHERE state = 'never_ended') AS never_ended,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY duration) AS median_s,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY duration) AS p95_s,
    max(duration) AS max_s, sum(duration) AS total_s,
    min(start_time) AS first_start, max(end_time) AS last_end"""

_GROUP_KEY = {
    "step": ("base b", "COALESCE(b.name, '-')"),
    "night": ("base b", "COALESCE(b.night, '-')"),
    "run": (
        "base b LEFT JOIN run_map m ON m.session_id = b.session_id",
        "COALESCE(m.run_id, '-')",
    ),
}

_ROW_COLUMNS = "id, name, night, run_id, start_time, end_time, duration, state, status, exit_code"


def _params(night: dt.date | None, run: tuple[str | None, str] | None) -> dict[str, Any]:
    return {
        "night": night,
        "run": run[1] if run else None,
        "run_date": run[0] if run else None,
        "failed_statuses": list(FAILED_STATUSES),
    }


def _group(row: Sequence[Any]) -> GroupStats:
    return GroupStats(
        group=row[0],
        activities=int(row[1]),
        completed=int(row[2]),
        failed=int(row[3]),
        never_ended=int(row[4]),
        median_s=row[5],
        p95_s=row[6],
        max_s=row[7],
        total_s=row[8],
        first_start=row[9],
        last_end=row[10],
    )


def _activity(row: Sequence[Any]) -> ActivityRow:
    return ActivityRow(
        id=row[0],
        name=row[1],
        night=row[2],
        run=row[3],
        start=row[4],
        end=row[5],
        duration_s=row[6],
        state=row[7],
        status=row[8],
        exit_code=row[9],
    )


def _fetch(cur: Any, sql: str, params: dict[str, Any]) -> list[tuple]:
    execute(cur, sql, params)
    return list(cur.fetchall())


def _check_filters(
    cur: Any, night: dt.date | None, run: tuple[str | None, str] | None
) -> list[str]:
    """Raise :class:`StatsError` for a night or run the archive does not hold.

    Returns the archive's nights (latest first) for the callers that offer a choice.
    """
    nights = [
        r[0]
        for r in _fetch(
            cur,
            "SELECT DISTINCT to_char(night, 'YYYYMMDD') AS n FROM archive.processing_session "
            "WHERE night IS NOT NULL ORDER BY n DESC",
            {},
        )
    ]
    if night is not None and _night_text(night) not in nights:
        known = ", ".join(nights[:5]) or "none (ingest a night's prov.log first)"
        more = f" ({len(nights)} in all)" if len(nights) > 5 else ""
        raise StatsError(
            f"unknown night {_night_text(night)}: the archive's latest nights are "
            f"{known}{more}; give --night YYYYMMDD"
        )
    if run is not None:
        date = run[0] or _night_text(night)
        runs = _fetch(
            cur,
            "SELECT DISTINCT observation_date || '_' || observation_run AS r "
            "FROM archive.processing_session WHERE source_format = 'lstosa' "
            "AND observation_run IS NOT NULL "
            "AND (%(date)s::text IS NULL OR observation_date = %(date)s::text) "
            "ORDER BY r DESC",
            {"date": date},
        )
        run_ids = [r[0] for r in runs]
        if not any(r.endswith("_" + run[1]) for r in run_ids):
            where = f" of night {date}" if date else ""
            known = ", ".join(run_ids[:5]) or "none"
            raise StatsError(
                f"unknown run {run[1]}{where}: the latest runs{where} are {known}; "
                "give --run RUN or --run YYYYMMDD_RUN"
            )
    return nights


def activity_stats(
    conn: Any,
    *,
    night: str | dt.date | None = None,
    run: str | int | None = None,
    by: str = "step",
    top: int = 10,
) -> StatsReport:
    """Counts, durations and failures of the activities of a night, a run or the archive.

    Parameters
    ----------
    conn:
        psycopg 3 connection, SQLAlchemy ``Connection`` or ``Engine``.
    night:
        ``YYYYMMDD`` (or a date): only the activities of that night's sessions.
    run:
        ``01807`` or ``20200117_01807``: only that run's activities (and its night's
        calibration).
    by:
        ``step`` (activity name), ``run`` or ``night``: the grouping of ``groups``.
    top:
        How many of the slowest activities to list.

    Returns
    -------
    StatsReport
        ``summary`` over every counted activity, ``groups`` sorted by total duration
        (largest first), the ``top`` slowest activities, the failures and the
        never-ended activities (at most :data:`MAX_LISTED` each, oldest first).

    Raises
    ------
    StatsError
        Bad arguments, or a night or run the archive does not hold.
    """
    if by not in BY:
        raise StatsError(f"unknown grouping {by!r}: give one of {', '.join(BY)}")
    if not isinstance(top, int) or top < 0:
        raise StatsError(f"top must be a whole number >= 0, not {top!r}")
    day = parse_night(night)
    run_key = parse_run(run)
    params = _params(day, run_key)
    base = _base_cte(night=day, run=run_key)
    source, key = _GROUP_KEY[by]
    groups_sql = f"""{base}
SELECT * FROM (
    SELECT {key} AS grp, {_AGGREGATES} FROM {source}
    GROUP BY 1
) g
UNION ALL
SELECT NULL, {_AGGREGATES} FROM base
ORDER BY 1 NULLS FIRST"""
    rows_sql = f"{base}\nSELECT {_ROW_COLUMNS} FROM base"
    with cursor(conn) as cur:
        nights = _check_filters(cur, day, run_key)
        rows = _fetch(cur, groups_sql, params)
        summary = _group(("all", *rows[0][1:]))
        groups = sorted(
            (_group(r) for r in rows[1:]),
            key=lambda g: (-(g.total_s or 0.0), -g.activities, g.group),
        )
        slowest = _fetch(
            cur,
            rows_sql + " WHERE duration IS NOT NULL ORDER BY duration DESC, id LIMIT %(top)s",
            {**params, "top": top},
        )
        problems = _fetch(
            cur,
            f"""{base}
SELECT {_ROW_COLUMNS} FROM (
    SELECT *, row_number() OVER (PARTITION BY state ORDER BY start_time, id) AS k
    FROM base WHERE state <> 'completed'
) p WHERE k <= %(cap)s ORDER BY start_time, id""",
            {**params, "cap": MAX_LISTED},
        )
    listed = [_activity(r) for r in problems]
    return StatsReport(
        night=_night_text(day),
        run=_run_text(run_key),
        by=by,
        top=top,
        summary=summary,
        groups=groups,
        slowest=[_activity(r) for r in slowest],
        failures=[a for a in listed if a.state == "failed"],
        never_ended=[a for a in listed if a.state == "never_ended"],
        nights=nights,
    )


def timeline(
    conn: Any, *, night: str | dt.date | None = None, run: str | int | None = None
) -> list[ActivityRow]:
    """Every counted activity of a night or run with its interval, by start time.

    Parameters
    ----------
    conn:
        psycopg 3 connection, SQLAlchemy ``Connection`` or ``Engine``.
    night, run:
        As for :func:`activity_stats`; at least one is needed (a timeline over the
        whole archive would span years).

    Raises
    ------
    StatsError
        Neither given, or a night or run the archive does not hold.
    """
    day = parse_night(night)
    run_key = parse_run(run)
    if day is None and run_key is None:
        raise StatsError("a timeline needs a night or a run: give night=YYYYMMDD or run=RUN")
    sql = (
        f"{_base_cte(night=day, run=run_key)}\nSELECT {_ROW_COLUMNS} FROM base "
        "ORDER BY start_time, id"
    )
    with cursor(conn) as cur:
        _check_filters(cur, day, run_key)
        return [_activity(r) for r in _fetch(cur, sql, _params(day, run_key))]
