"""The SQL behind the UI pages: a few set-based statements per page, never one per row.

Every function takes a SQLAlchemy ``Connection`` and returns plain dicts (or lists of
dicts). Lists that can grow with the archive (consumers of a calibration file, search
hits) are cut at a limit, and the page says so.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from provdb.lineage.run_sql import run_activity_sql, run_entity_sql
from provdb.versions import TRACKED_PACKAGES, session_table

__all__ = [
    "LIST_LIMIT",
    "activity_page",
    "agent_page",
    "entity_page",
    "environment",
    "known_nodes",
    "run_page",
    "search",
]

#: Most rows of one list on a page (consumers, search hits...).
LIST_LIMIT = 500


def rows(conn: sa.Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def one(conn: sa.Connection, sql: str, **params: Any) -> dict[str, Any] | None:
    found = conn.execute(sa.text(sql), params).mappings().first()
    return dict(found) if found is not None else None


def _cut(items: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], bool]:
    return (items[:limit], True) if len(items) > limit else (items, False)


# ----------------------------------------------------------------------------- search

_RUN = re.compile(r"^(?:(\d{8})[_ ./-]?)?(?:run)?0*(\d{1,6})$", re.IGNORECASE)
_NIGHT = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(conn: sa.Connection, q: str, *, limit: int = 100) -> dict[str, Any]:
    """Entities (id, hash, location, name), activities, agents, runs and nights for ``q``."""
    q = q.strip()
    out: dict[str, Any] = {"entities": [], "activities": [], "agents": [], "runs": []}
    if not q:
        return out
    like = _like(q)
    # exact matches first (indexed), then substring matches of paths and names
    out["entities"] = rows(
        conn,
        """
        SELECT id, name, location, content_hash, entity_type, match FROM (
            SELECT DISTINCT ON (id) id, name, location, content_hash, entity_type, match, rank
            FROM (
                SELECT e.*, 'id' AS match, 0 AS rank FROM provenance.entity e WHERE e.id = :q
                UNION ALL
                SELECT e.*, 'content hash', 1 FROM provenance.entity e WHERE e.content_hash = :q
                UNION ALL
                SELECT e.*, 'location', 2 FROM provenance.entity e WHERE e.location = :q
                UNION ALL
                (SELECT e.*, 'path or name', 3 FROM provenance.entity e
                 WHERE e.location ILIKE :like OR e.name ILIKE :like OR e.id ILIKE :like
                 LIMIT :n)
            ) hits
            ORDER BY id, rank
        ) found
        ORDER BY rank, location NULLS LAST, id
        LIMIT :n
        """,
        q=q,
        like=like,
        n=limit + 1,
    )
    out["activities"] = rows(
        conn,
        f"""
        SELECT a.id, a.name, a.start_time, a.original_id, s.observation_date, s.observation_run
        FROM provenance.activity a LEFT JOIN {session_table()} s ON s.id = a.session_id
        WHERE a.id = :q OR a.original_id = :q OR a.id LIKE :prefix
           OR a.session_tag = :q OR a.name = :q
        ORDER BY (a.id = :q) DESC, a.start_time NULLS LAST, a.id
        LIMIT :n
        """,
        q=q,
        prefix=q.replace("%", "\\%").replace("_", "\\_") + "@%",
        n=limit + 1,
    )
    out["agents"] = rows(
        conn,
        "SELECT id, name, type FROM provenance.agent "
        "WHERE id = :q OR name ILIKE :like ORDER BY (id = :q) DESC, name LIMIT :n",
        q=q,
        like=like,
        n=limit + 1,
    )
    night = run = None
    m = _RUN.match(q)
    if m and (m.group(1) or len(m.group(2)) <= 5 or q.lower().startswith("run")):
        night, run = m.group(1), m.group(2).zfill(5)
    n = _NIGHT.match(q)
    if n:
        night, run = "".join(n.groups()), None
    if night or run:
        out["runs"] = rows(
            conn,
            f"""
            SELECT observation_date, observation_run,
                   string_agg(DISTINCT concat_ws(' ', software_package, software_version), ', ')
                   FILTER (WHERE software_version IS NOT NULL) AS software_versions
            FROM {session_table()}
            WHERE observation_run IS NOT NULL
              AND (CAST(:night AS text) IS NULL OR observation_date = :night)
              AND (CAST(:run AS text) IS NULL OR observation_run = :run)
            GROUP BY observation_date, observation_run
            ORDER BY observation_date DESC, observation_run LIMIT :n
            """,
            night=night,
            run=run,
            n=limit + 1,
        )
    out["truncated"] = [
        k for k in ("entities", "activities", "agents", "runs") if len(out[k]) > limit
    ]
    for key in ("entities", "activities", "agents", "runs"):
        out[key] = out[key][:limit]
    return out


def known_nodes(conn: sa.Connection, values: list[str]) -> dict[str, tuple[str, str]]:
    """Which of ``values`` are entity, activity or agent ids (or entity locations).

    Returns ``{value: (kind, id)}``; one statement whatever the number of values.
    """
    if not values:
        return {}
    found: dict[str, tuple[str, str]] = {}
    paths = [v for v in values if v.startswith("/") or "://" in v]
    for row in conn.execute(
        sa.text(
            """
            SELECT 'entity' AS kind, id, id AS value FROM provenance.entity
             WHERE id = ANY(:v)
            UNION ALL
            SELECT 'activity', id, id FROM provenance.activity WHERE id = ANY(:v)
            UNION ALL
            SELECT 'agent', id, id FROM provenance.agent WHERE id = ANY(:v)
            UNION ALL
            SELECT DISTINCT ON (location) 'entity', id, location FROM provenance.entity
             WHERE location = ANY(:p)
            """
        ),
        {"v": values, "p": paths},
    ):
        # an id wins over a location; entity over activity over agent for equal ids
        found.setdefault(row.value, (row.kind, row.id))
    return found


# ----------------------------------------------------------------------------- entity


def entity_page(conn: sa.Connection, ident: str, *, limit: int = LIST_LIMIT) -> dict | None:
    """Everything the entity page lists except the graph; ``None`` if unknown."""
    entity = one(
        conn,
        """
        SELECT e.*, d.name AS description_name, d.description AS description_text,
               d.type AS description_type, d.docurl AS description_docurl
        FROM provenance.entity e
        LEFT JOIN provenance.entitydescription d ON d.id = e.entity_description_id
        WHERE e.id = :id
        """,
        id=ident,
    )
    if entity is None:
        return None
    s = session_table()
    generations = rows(
        conn,
        f"""
        SELECT g.role, a.id, a.name, a.start_time, a.end_time, s.software_version,
               s.observation_date, s.observation_run
        FROM provenance.wasgeneratedby g
        JOIN provenance.activity a ON a.id = g.activity_id
        LEFT JOIN {s} s ON s.id = a.session_id
        WHERE g.entity_id = :id
        ORDER BY a.start_time NULLS LAST, a.id
        """,
        id=ident,
    )
    inputs = rows(
        conn,
        """
        SELECT relation, role, id, name, location,
               array_remove(array_agg(DISTINCT activity_id), NULL) AS activities
        FROM (
            SELECT 'used' AS relation, u.role, u.activity_id, e.id, e.name, e.location
            FROM provenance.wasgeneratedby g
            JOIN provenance.used u ON u.activity_id = g.activity_id
            JOIN provenance.entity e ON e.id = u.entity_id
            WHERE g.entity_id = :id
            UNION ALL
            SELECT 'wasDerivedFrom', NULL, NULL, e.id, e.name, e.location
            FROM provenance.wasderivedfrom d
            JOIN provenance.entity e ON e.id = d.used_entity_id
            WHERE d.generated_entity_id = :id
        ) x
        GROUP BY relation, role, id, name, location
        ORDER BY relation DESC, location, id
        LIMIT :n
        """,
        id=ident,
        n=limit + 1,
    )
    consumers = rows(
        conn,
        f"""
        SELECT u.role, a.id, a.name, a.start_time, s.observation_date, s.observation_run
        FROM provenance.used u
        JOIN provenance.activity a ON a.id = u.activity_id
        LEFT JOIN {s} s ON s.id = a.session_id
        WHERE u.entity_id = :id
        ORDER BY a.start_time NULLS LAST, a.id
        LIMIT :n
        """,
        id=ident,
        n=limit + 1,
    )
    related = rows(
        conn,
        """
        (SELECT 'derived product' AS relation, e.id, e.name, e.location
         FROM provenance.wasderivedfrom d JOIN provenance.entity e ON e.id = d.generated_entity_id
         WHERE d.used_entity_id = :id ORDER BY e.location, e.id LIMIT :n)
        UNION ALL
        (SELECT 'member of', e.id, e.name, e.location
         FROM provenance.hadmember h JOIN provenance.entity e ON e.id = h.collection_id
         WHERE h.entity_id = :id ORDER BY e.location, e.id LIMIT :n)
        UNION ALL
        (SELECT 'member', e.id, e.name, e.location
         FROM provenance.hadmember h JOIN provenance.entity e ON e.id = h.entity_id
         WHERE h.collection_id = :id ORDER BY e.location, e.id LIMIT :n)
        """,
        id=ident,
        n=limit + 1,
    )
    agents = rows(
        conn,
        """
        SELECT g.id, g.name, g.type, w.role FROM provenance.wasattributedto w
        JOIN provenance.agent g ON g.id = w.agent_id WHERE w.entity_id = :id ORDER BY g.name
        """,
        id=ident,
    )
    ancestry = one(
        conn,
        "SELECT (SELECT count(*) FROM archive.lineage WHERE entity_id = :id) AS ancestors, "
        "(SELECT count(*) FROM archive.lineage WHERE ancestor_id = :id) AS descendants",
        id=ident,
    )
    inputs, inputs_cut = _cut(inputs, limit)
    consumers, consumers_cut = _cut(consumers, limit)
    return {
        "entity": entity,
        "generations": generations,
        "inputs": inputs,
        "inputs_cut": inputs_cut,
        "consumers": consumers,
        "consumers_cut": consumers_cut,
        "related": related,
        "agents": agents,
        "ancestry": ancestry or {},
    }


# ----------------------------------------------------------------------------- activity

_TRACKED = list(TRACKED_PACKAGES)


def activity_page(conn: sa.Connection, ident: str, *, limit: int = LIST_LIMIT) -> dict | None:
    """Everything the activity page shows; ``None`` if unknown."""
    s = session_table()
    activity = one(
        conn,
        f"""
        SELECT a.*, d.name AS description_name, d.description AS description_text,
               d.type AS description_type, d.version AS description_version,
               d.docurl AS description_docurl,
               s.original_id AS session_original_id, s.source_format AS session_format,
               s.name AS session_name, s.observation_date, s.observation_run,
               s.pedestal_run, s.calibration_run, s.software_version,
               s.config_file AS session_config_file,
               s.config_file_hash AS session_config_hash,
               s.config_file_hash_type AS session_config_hash_type, s.environment_id,
               env.node AS env_node, env.python_version AS env_python,
               env.executable AS env_executable, env.system -> 'platform' AS env_platform
        FROM provenance.activity a
        LEFT JOIN provenance.activitydescription d ON d.id = a.activity_description_id
        LEFT JOIN {s} s ON s.id = a.session_id
        LEFT JOIN archive.environment env ON env.id = s.environment_id
        WHERE a.id = :id
        """,
        id=ident,
    )
    if activity is None:
        return None
    parameters = rows(
        conn,
        """
        SELECT p.name, p.parameter_value, p.value_entity_id, d.description, d.unit,
               d.default_value
        FROM provenance.parameter p
        LEFT JOIN provenance.parameterdescription d ON d.id = p.parameter_description_id
        WHERE p.activity_id = :id ORDER BY p.name, p.id
        """,
        id=ident,
    )
    config_files = rows(
        conn,
        """
        SELECT c.name, c.location, c.comment, c.content_hash, c.content_hash_type,
               d.description, d.content_type
        FROM provenance.configfile c
        LEFT JOIN provenance.configfiledescription d ON d.id = c.config_file_description_id
        WHERE c.activity_id = :id ORDER BY c.name, c.id
        """,
        id=ident,
    )
    io = rows(
        conn,
        """
        (SELECT 'used' AS relation, u.role, u.used_time AS time, e.id, e.name, e.location
         FROM provenance.used u JOIN provenance.entity e ON e.id = u.entity_id
         WHERE u.activity_id = :id ORDER BY u.role NULLS LAST, e.location, e.id LIMIT :n)
        UNION ALL
        (SELECT 'generated', g.role, e.generated_at_time, e.id, e.name, e.location
         FROM provenance.wasgeneratedby g JOIN provenance.entity e ON e.id = g.entity_id
         WHERE g.activity_id = :id ORDER BY g.role NULLS LAST, e.location, e.id LIMIT :n)
        """,
        id=ident,
        n=limit + 1,
    )
    used = [r for r in io if r["relation"] == "used"]
    generated = [r for r in io if r["relation"] == "generated"]
    used, used_cut = _cut(used, limit)
    generated, generated_cut = _cut(generated, limit)
    others = rows(
        conn,
        """
        SELECT 'agent' AS relation, w.role, g.id, g.name, g.type
        FROM provenance.wasassociatedwith w JOIN provenance.agent g ON g.id = w.agent_id
        WHERE w.activity_id = :id
        UNION ALL
        SELECT 'informant', NULL, a.id, a.name, NULL
        FROM provenance.wasinformedby i JOIN provenance.activity a ON a.id = i.informant_id
        WHERE i.informed_id = :id
        UNION ALL
        SELECT 'informed', NULL, a.id, a.name, NULL
        FROM provenance.wasinformedby i JOIN provenance.activity a ON a.id = i.informed_id
        WHERE i.informant_id = :id
        """,
        id=ident,
    )
    packages = []
    if activity.get("environment_id"):
        packages = environment_packages(conn, activity["environment_id"])
    return {
        "activity": activity,
        "parameters": parameters,
        "config_files": config_files,
        "used": used,
        "used_cut": used_cut,
        "generated": generated,
        "generated_cut": generated_cut,
        "agents": [r for r in others if r["relation"] == "agent"],
        "informants": [r for r in others if r["relation"] == "informant"],
        "informed": [r for r in others if r["relation"] == "informed"],
        "packages": packages,
    }


def environment_packages(conn: sa.Connection, env_id: str) -> list[dict[str, Any]]:
    """The tracked packages of an environment (Python package list, ``*_version`` keys)."""
    return rows(
        conn,
        r"""
        SELECT DISTINCT ON (package) package, version FROM (
            SELECT lower(regexp_replace(p ->> 'name', '[-.\s]+', '_', 'g')) AS package,
                   p ->> 'version' AS version, 1 AS rank
            FROM archive.environment e
            CROSS JOIN LATERAL jsonb_array_elements(
                CASE WHEN jsonb_typeof(e.system #> '{python,packages}') = 'array'
                     THEN e.system #> '{python,packages}' ELSE '[]'::jsonb END) AS p
            WHERE e.id = :id AND jsonb_typeof(p) = 'object'
            UNION ALL
            SELECT lower(regexp_replace(kv.key, '_version$', '')), kv.value, 2
            FROM archive.environment e CROSS JOIN LATERAL jsonb_each_text(e.system) AS kv
            WHERE e.id = :id AND kv.key ~ '_version$'
        ) x
        WHERE package = ANY(:tracked) AND version IS NOT NULL
        ORDER BY package, rank
        """,
        id=env_id,
        tracked=_TRACKED,
    )


def environment(conn: sa.Connection, env_id: str) -> dict[str, Any] | None:
    found = one(
        conn,
        f"""
        SELECT e.*, (SELECT count(*) FROM {session_table()} s
                     WHERE s.environment_id = e.id) AS sessions
        FROM archive.environment e WHERE e.id = :id
        """,
        id=env_id,
    )
    if found is not None:
        found["packages"] = environment_packages(conn, env_id)
    return found


# ----------------------------------------------------------------------------- agent


def agent_page(conn: sa.Connection, ident: str, *, limit: int = LIST_LIMIT) -> dict | None:
    agent = one(conn, "SELECT * FROM provenance.agent WHERE id = :id", id=ident)
    if agent is None:
        return None
    linked = rows(
        conn,
        """
        (SELECT 'activity' AS kind, w.role, a.id, a.name, a.start_time AS time, NULL AS location
         FROM provenance.wasassociatedwith w JOIN provenance.activity a ON a.id = w.activity_id
         WHERE w.agent_id = :id ORDER BY a.start_time DESC NULLS LAST, a.id LIMIT :n)
        UNION ALL
        (SELECT 'entity', w.role, e.id, e.name, e.generated_at_time, e.location
         FROM provenance.wasattributedto w JOIN provenance.entity e ON e.id = w.entity_id
         WHERE w.agent_id = :id ORDER BY e.location, e.id LIMIT :n)
        """,
        id=ident,
        n=limit + 1,
    )
    counts = one(
        conn,
        "SELECT (SELECT count(*) FROM provenance.wasassociatedwith WHERE agent_id = :id) AS "
        "activities, (SELECT count(*) FROM provenance.wasattributedto WHERE agent_id = :id) "
        "AS entities",
        id=ident,
    )
    activities, _ = _cut([r for r in linked if r["kind"] == "activity"], limit)
    entities, _ = _cut([r for r in linked if r["kind"] == "entity"], limit)
    return {"agent": agent, "activities": activities, "entities": entities, "counts": counts}


# ----------------------------------------------------------------------------- run


def run_page(conn: sa.Connection, night: str, run: str, step: str) -> dict[str, Any]:
    """The run's step groups (archive.run_step), activities per name and run-level files."""
    run_id = f"{night}_{run}"
    one_run = run_activity_sql(":nights", ":runs")
    steps = rows(
        conn,
        f"""
        SELECT COALESCE(step_group, 'all') AS step_group, count(*) AS n_activities,
               min(start_time) AS start_time, max(end_time) AS end_time,
               string_agg(DISTINCT software_version, ',') AS software_versions
        FROM ({one_run}) a
        -- each group and the run as a whole ('all') from one reading of the run
        GROUP BY GROUPING SETS ((step_group), ())
        HAVING count(*) > 0  -- the whole of an unknown run: no row (the page says 404)
        ORDER BY CASE COALESCE(step_group, 'all') WHEN 'calibration' THEN 0
                 WHEN 'r0_to_dl1' THEN 1 WHEN 'dl1_to_dl2' THEN 2 WHEN 'all' THEN 9 ELSE 5 END
        """,
        nights=[night],
        runs=[run],
    )
    activities = rows(
        conn,
        f"""
        SELECT activity_name, count(*) AS n, min(start_time) AS start_time,
               max(end_time) AS end_time, string_agg(DISTINCT software_version, ', ') AS versions
        FROM ({one_run}) a
        WHERE :s = 'all' OR step_group = :s
        GROUP BY activity_name ORDER BY min(start_time), activity_name
        """,
        nights=[night],
        runs=[run],
        s=step,
    )
    files = rows(
        conn,
        f"""
        SELECT entity_id, entity_name, location, subrun_level,
               string_agg(DISTINCT relation, ', ') AS relations,
               string_agg(DISTINCT role, ', ') AS roles
        FROM ({run_entity_sql(":nights", ":runs", ":s")}) f
        GROUP BY entity_id, entity_name, location, subrun_level
        ORDER BY subrun_level, entity_name, location
        """,
        nights=[night],
        runs=[run],
        s=step,
    )
    return {"run_id": run_id, "steps": steps, "activities": activities, "files": files}


def run_step_groups(
    conn: sa.Connection, runs: list[tuple[str, str]]
) -> dict[tuple[str, str], set[str]]:
    """The step groups (``archive.run_step``'s, ``all`` included) of each ``(night, run)``."""
    if not runs:
        return {}
    found: dict[tuple[str, str], set[str]] = {}
    for row in rows(
        conn,
        f"""
        SELECT DISTINCT observation_date, observation_run, step_group
        FROM ({run_activity_sql(":nights", ":runs")}) a
        """,
        nights=[night for night, _ in runs],
        runs=[run for _, run in runs],
    ):
        key = (row["observation_date"], row["observation_run"])
        found.setdefault(key, {"all"}).add(row["step_group"])
    return found


def run_activities(conn: sa.Connection, night: str, run: str, step: str) -> list[dict]:
    """Every activity of a run step (the subrun detail)."""
    return rows(
        conn,
        f"""
        SELECT activity_id AS id, activity_name AS name, step_group, start_time, end_time,
               software_version
        FROM ({run_activity_sql(":nights", ":runs")}) a
        WHERE :s = 'all' OR step_group = :s
        ORDER BY start_time NULLS LAST, activity_id
        """,
        nights=[night],
        runs=[run],
        s=step,
    )


# ----------------------------------------------------------------------------- misses


def resolve(conn: sa.Connection, q: str) -> list[dict[str, Any]]:
    """What an unknown page id may mean: a node of another kind, a path, a short id."""
    return rows(
        conn,
        """
        SELECT kind, id, name, how FROM (
            SELECT 'entity' AS kind, id, name, 'id' AS how, 0 AS rank
            FROM provenance.entity WHERE id = :q
            UNION ALL
            SELECT 'activity', id, name, 'id', 0 FROM provenance.activity WHERE id = :q
            UNION ALL
            SELECT 'agent', id, name, 'id', 0 FROM provenance.agent WHERE id = :q
            UNION ALL
            (SELECT 'entity', id, name, 'location', 1 FROM provenance.entity
             WHERE location = :q ORDER BY id LIMIT 20)
            UNION ALL
            (SELECT 'activity', id, name, 'original id', 2 FROM provenance.activity
             WHERE original_id = :q ORDER BY start_time NULLS LAST, id LIMIT 20)
        ) x
        ORDER BY rank, kind, id
        """,
        q=q,
    )


# ----------------------------------------------------------------------------- versions


def versions_source(conn: sa.Connection, catalog: Any) -> str:
    """``product_version`` when that view has rows and TAP publishes it, else ``sessions``
    (the versions recorded in the processing sessions of the generating activities)."""
    if catalog.table("archive.product_version") is None:
        return "sessions"
    ready = conn.execute(
        sa.text(
            "SELECT to_regclass('archive.product_version') IS NOT NULL "
            "AND to_regclass('archive.software') IS NOT NULL"
        )
    ).scalar()
    if not ready:
        return "sessions"
    if not conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM archive.software)")).scalar():
        return "sessions"
    return "product_version"


def session_versions(conn: sa.Connection) -> list[dict[str, Any]]:
    """Products per session software version and entity name (the fallback source)."""
    return rows(
        conn,
        f"""
        SELECT s.software_package AS package, s.software_version AS version,
               e.name AS product_type, count(DISTINCT e.id) AS n_products
        FROM provenance.entity e
        JOIN provenance.wasgeneratedby g ON g.entity_id = e.id
        JOIN provenance.activity a ON a.id = g.activity_id
        JOIN {session_table()} s ON s.id = a.session_id
        WHERE s.software_version IS NOT NULL
        GROUP BY s.software_package, s.software_version, e.name
        ORDER BY s.software_package, s.software_version, e.name
        """,
    )


def session_version_products(
    conn: sa.Connection, versions: list[str], product_type: str, *, limit: int = 1000
) -> list[dict[str, Any]]:
    return rows(
        conn,
        f"""
        SELECT DISTINCT e.id AS entity_id, e.location, e.name AS product_type,
               s.software_version AS version
        FROM provenance.entity e
        JOIN provenance.wasgeneratedby g ON g.entity_id = e.id
        JOIN provenance.activity a ON a.id = g.activity_id
        JOIN {session_table()} s ON s.id = a.session_id
        WHERE s.software_version = ANY(:v)
          AND (:pt = '' OR upper(e.name) LIKE :like)
        ORDER BY e.location, e.id
        LIMIT :n
        """,
        v=versions,
        pt=product_type,
        like="%" + product_type.upper() + "%",
        n=limit,
    )
