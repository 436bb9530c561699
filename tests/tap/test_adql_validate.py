"""Invalid and hostile ADQL: every one refused with a precise ADQLError (and position)."""

from __future__ import annotations

import pickle

import pytest

from tap.adql import ADQLError, translate
from tap.catalog import catalog_from_metadata

CATALOG = catalog_from_metadata()


def refuse(adql: str) -> ADQLError:
    with pytest.raises(ADQLError) as info:
        translate(adql, CATALOG, maxrec=100)
    return info.value


# (query, expected message part, line, column); line/column None when not applicable
CASES = [
    # --- not ADQL at all / truncated
    ("SELEC id FROM provenance.entity", "starts with SELECT", 1, 1),
    ("DROP TABLE provenance.entity", "starts with SELECT", 1, 1),
    ("DELETE FROM provenance.entity", "starts with SELECT", 1, 1),
    ("SELECT id FROM", "unexpected end of query", 1, 11),
    ("SELECT id FROM provenance.entity WHERE", "incomplete WHERE", 1, 34),
    ("SELECT id, FROM provenance.entity", "Expected an item after ','", 1, 10),
    ("SELECT id FROM provenance.entity WHERE id IN ('a',)", "Expected an item", 1, 50),
    ("SELECT id FROM provenance.entity WHERE id IN ('a',, 'b')", "Expected an item", 1, 50),
    ("SELECT COALESCE(id,) FROM provenance.entity", "Expected an item", 1, 19),
    ("SELECT id FROM provenance.entity WHERE id = 'open", "unterminated string", 1, 45),
    ('SELECT "id FROM provenance.entity', "unterminated delimited identifier", 1, 8),
    ("", "empty query", None, None),
    ("   -- only a comment", "empty query", None, None),
    # --- PostgreSQL syntax that is not ADQL
    ("SELECT id FROM provenance.entity LIMIT 10", "LIMIT is not ADQL", 1, 34),
    ("SELECT id::text FROM provenance.entity", "'::' casts are not ADQL", 1, 10),
    ("SELECT /* hi */ id FROM provenance.entity", "'/* */' comments are not ADQL", 1, 8),
    ("SELECT id FROM provenance.entity WHERE name ~ 'a'", "'~'", 1, 45),
    ("SELECT id FROM provenance.entity WHERE attributes->>'a' = 'b'", "'->'", 1, 50),
    ("SELECT id FROM provenance.entity WHERE id = $$x$$", "not a valid ADQL name", 1, 45),
    ("SELECT id FROM provenance.entity WHERE id = E'\\x41'", "E'...' strings", 1, 45),
    ("SELECT id FROM provenance.entity WHERE id = N'x'", "N'...' strings", 1, 45),
    ("SELECT id FROM provenance.entity WHERE size_bytes % 2 = 0", "'%' is not ADQL", 1, 51),
    ("SELECT id FROM provenance.entity WHERE size_bytes = ?", "'?'", 1, 53),
    ("SELECT id FROM provenance.entity WHERE size_bytes = @x", "'@'", 1, 53),
    ("SELECT (ARRAY[1])[1] FROM provenance.entity", "'['", 1, 14),
    ("SELECT id FROM provenance.entity WHERE size_bytes ^ 2 > 1", "'^' is not ADQL", 1, 51),
    ("SELECT id FROM provenance.entity ORDER BY id NULLS LAST", "NULLS FIRST/LAST", 1, 46),
    ("SELECT DISTINCT ON (id) id FROM provenance.entity", "DISTINCT ON is not ADQL", 1, 8),
    ("SELECT id INTO copy FROM provenance.entity", "SELECT ... INTO", 1, 11),
    ("SELECT id FROM provenance.entity FOR UPDATE", "FOR UPDATE", 1, 34),
    ("SELECT id FROM provenance.entity FOR SHARE", "FOR UPDATE/SHARE", 1, 34),
    (
        "SELECT ROW_NUMBER() OVER (ORDER BY id) FROM provenance.entity",
        "window functions",
        1,
        21,
    ),
    (
        "SELECT COUNT(*) OVER (PARTITION BY entity_type) FROM provenance.entity",
        "window functions",
        1,
        17,
    ),
    (
        "WITH RECURSIVE t AS (SELECT id FROM provenance.entity) SELECT id FROM t",
        "WITH RECURSIVE",
        1,
        6,
    ),
    (
        "SELECT id FROM provenance.entity, LATERAL (SELECT 1 FROM provenance.used) AS x",
        "LATERAL",
        1,
        35,
    ),
    ("SELECT id FROM provenance.entity TABLESAMPLE SYSTEM (10)", "TABLESAMPLE", 1, 34),
    ("SELECT CASE WHEN id = 'a' THEN 1 END FROM provenance.entity", "CASE", 1, 8),
    ("SELECT id FROM provenance.entity WHERE id LIKE 'a!%' ESCAPE '!'", "ESCAPE", 1, 54),
    (
        "SELECT id FROM provenance.entity WHERE id = ANY (SELECT entity_id FROM provenance.used)",
        "ANY",
        1,
        45,
    ),
    (
        "SELECT id FROM provenance.entity WHERE size_bytes > ALL (SELECT size_bytes FROM "
        "provenance.entity)",
        "ALL",
        1,
        53,
    ),
    ("SELECT INTERVAL '1 day' FROM provenance.entity", "INTERVAL", 1, 8),
    ("SELECT * FROM (VALUES (1)) AS v", "VALUES", 1, 16),
    ("SELECT id FROM provenance.entity CROSS JOIN provenance.agent", "CROSS JOIN", 1, 34),
    ("SELECT e.id FROM provenance.entity e JOIN provenance.agent a", "JOIN needs ON", 1, 38),
    ("SELECT id FROM provenance.entity WHERE id IS TRUE", "IS [NOT] NULL", 1, 43),
    ("SELECT id FROM provenance.entity WHERE id SIMILAR TO 'a'", "SIMILAR TO", 1, 43),
    ("SELECT id FROM provenance.entity AS e(x)", "column lists in aliases", 1, 37),
    ("SELECT 1", "FROM is required", 1, 1),
    (
        "SELECT id FROM provenance.entity WHERE id IN (SELECT 'a')",
        "FROM is required",
        1,
        47,
    ),
    ("SELECT id FROM provenance.entity ORDER BY id OFFSET 5 ROWS", "OFFSET n ROWS", 1, 55),
    ("SELECT id FROM provenance.entity WHERE name ILIKE ANY ('a', 'b')", "ANY", 1, 51),
    ("SELECT id FROM provenance.entity WHERE (id, name) IN (('a', 'b'))", "TUPLE", 1, 41),
    ("SELECT EXTRACT(YEAR FROM generated_at_time) FROM provenance.entity", "Expecting )", 1, 21),
    ("SELECT id FROM provenance.entity GROUP BY ROLLUP (id)", "ROLLUP", 1, 43),
    ("SELECT * FROM provenance.entity WINDOW w AS (ORDER BY id)", "WINDOW", 1, 33),
    ("TABLE provenance.entity", "starts with SELECT", 1, 1),
    ("SELECT TOP 1.5 id FROM provenance.entity", "TOP needs an unsigned integer", 1, 8),
    ("SELECT TOP (1+1) id FROM provenance.entity", "TOP needs an unsigned integer", 1, 8),
    ("SELECT id FROM provenance.entity ORDER BY id OFFSET -1", "OFFSET", 1, 46),
    (
        "SELECT id FROM provenance.entity WHERE id IN "
        "(WITH w AS (SELECT 1 FROM provenance.used) SELECT 1 FROM w)",
        "WITH is only allowed at the start",
        1,
        47,
    ),
    # --- statements and injections
    ("SELECT id FROM provenance.entity; DROP TABLE x", "';' is not allowed", 1, 33),
    ("SELECT id FROM provenance.entity;", "';' is not allowed at the end", 1, 33),
    (
        "SELECT id FROM provenance.entity WHERE name = 'a'; DROP TABLE x; --'",
        "';' is not allowed",
        1,
        50,
    ),
    # --- functions
    ("SELECT pg_sleep(10) FROM provenance.entity", "unknown function 'pg_sleep'", 1, 8),
    (
        "SELECT current_setting('data_directory') FROM provenance.entity",
        "unknown function 'current_setting'",
        1,
        8,
    ),
    ("SELECT version() FROM provenance.entity", "unknown function 'version'", 1, 8),
    ("SELECT set_config('a', 'b', false) FROM provenance.entity", "set_config", 1, 8),
    ("SELECT lo_import('/etc/passwd') FROM provenance.entity", "lo_import", 1, 8),
    ("SELECT dblink('x', 'y') FROM provenance.entity", "dblink", 1, 8),
    ('SELECT "pg_sleep"(1) FROM provenance.entity', "unknown function 'pg_sleep'", 1, 8),
    ("SELECT id FROM provenance.entity WHERE pg_sleep(1) IS NULL", "pg_sleep", 1, 40),
    ("SELECT LOGG(size_bytes) FROM provenance.entity", "did you mean LOG?", 1, 8),
    ("SELECT LENGTH(name) FROM provenance.entity", "unknown function 'LENGTH'", 1, 8),
    ("SELECT SUBSTRING(name, 1, 2) FROM provenance.entity", "SUBSTRING", 1, 8),
    ("SELECT NOW() FROM provenance.entity", "unknown function 'NOW'", 1, 8),
    ("SELECT RAND(1, 2) FROM provenance.entity", "RAND takes 0 or 1 argument(s), got 2", 1, 8),
    # --- #16: refused in ADQL's words, before PostgreSQL sees them
    ("SELECT TOP foo id FROM provenance.entity", "TOP needs an unsigned integer", 1, 8),
    ("SELECT id FROM provenance.entity ORDER BY id OFFSET", "OFFSET needs an unsigned", 1, 46),
    ("SELECT id FROM provenance.entity WHERE id IN 5", "IN needs a parenthesised list", 1, 46),
    ("SELECT id FROM provenance.entity WHERE id IN", "IN needs a parenthesised list", 1, 43),
    ("SELECT id FROM provenance.entity WHERE id IN ()", "IN needs a parenthesised list", 1, 43),
    (
        "SELECT id FROM provenance.entity WHERE name IN ('a') AND id IN",
        "IN needs a parenthesised list",
        1,
        61,
    ),
    (
        "SELECT id FROM provenance.entity OFFSET 3 WHERE id = 'a'",
        "OFFSET must come last, not before 'WHERE'",
        1,
        34,
    ),
    (
        "SELECT e.id FROM provenance.entity e OFFSET 1 JOIN provenance.used u USING (id)",
        "OFFSET must come last, not before 'JOIN'",
        1,
        38,
    ),
    # --- #16: GROUP BY validity (a grouped primary key covers its table: see translate tests)
    (
        "SELECT name FROM provenance.entity GROUP BY entity_type",
        "name must be grouped or inside an aggregate",
        1,
        8,
    ),
    ("SELECT name, COUNT(*) FROM provenance.entity", "or add GROUP BY name", 1, 8),
    (
        "SELECT entity_type, COUNT(*) FROM provenance.entity GROUP BY entity_type ORDER BY name",
        "name must be grouped",
        1,
        83,
    ),
    (
        "SELECT COUNT(*) FROM provenance.entity e GROUP BY e.name HAVING e.size_bytes > 1",
        "add e.size_bytes to GROUP BY",
        1,
        65,
    ),
    (
        "SELECT x.name FROM (SELECT id, name FROM provenance.entity) x GROUP BY x.id",
        "name must be grouped",  # no key to depend on in a subquery
        1,
        8,
    ),
    (
        "SELECT run_id, step_group FROM archive.run_step GROUP BY run_id",
        "step_group must be grouped",  # nor in a view
        1,
        16,
    ),
    (
        "SELECT e.id FROM provenance.entity e WHERE e.id IN "
        "(SELECT u.role FROM provenance.used u GROUP BY u.entity_id)",
        "role must be grouped",
        1,
        60,
    ),
    # --- #16: conditions are boolean, columns compared with literals of their kind
    (
        "SELECT e.id FROM provenance.entity e JOIN provenance.used u ON u.role",
        "JOIN ... ON needs a condition, not role, a string column",
        1,
        64,
    ),
    ("SELECT id FROM provenance.entity WHERE size_bytes", "WHERE needs a condition", 1, 40),
    ("SELECT id FROM provenance.entity WHERE NOT size_bytes", "NOT needs a condition", 1, 44),
    (
        "SELECT id FROM provenance.entity WHERE id = 'a' OR size_bytes",
        "OR needs a condition, not size_bytes, a numeric column",
        1,
        52,
    ),
    (
        "SELECT COUNT(*) FROM provenance.entity HAVING COUNT(*)",
        "HAVING needs a condition",
        1,
        47,
    ),
    (
        "SELECT id FROM provenance.entity WHERE id = 5",
        "id is a string column: compare it with a string literal ('5')",
        1,
        40,
    ),
    ("SELECT id FROM provenance.entity WHERE 5 < id", "compare it with a string literal", 1, 44),
    (
        "SELECT id FROM provenance.entity WHERE id IN ('a', -2)",
        "string literal ('-2')",
        1,
        40,
    ),
    (
        "SELECT id FROM provenance.entity WHERE name BETWEEN 'a' AND 1.5",
        "string literal ('1.5')",
        1,
        40,
    ),
    (
        "SELECT id FROM provenance.entity WHERE size_bytes = 'big'",
        "size_bytes is a numeric column: compare it with a number, not 'big'",
        1,
        40,
    ),
    (
        "SELECT id FROM provenance.activity WHERE\n  start_time > 3",
        "start_time is a timestamp column",
        2,
        3,
    ),
    (
        "SELECT id FROM provenance.entity OFFSET 2 ORDER BY id",
        "OFFSET must come last, not before 'ORDER BY'",
        1,
        34,
    ),
    ("SELECT LOG(1, 2) FROM provenance.entity", "LOG takes 1 argument(s), got 2", 1, 8),
    ("SELECT ROUND() FROM provenance.entity", "ROUND takes 1 or 2", 1, 8),
    ("SELECT IN_UNIT(size_bytes, 'kbyte') FROM provenance.entity", "IN_UNIT", 1, 8),
    (
        "SELECT id FROM provenance.entity WHERE AREA(CIRCLE('ICRS', 10, 20, 1)) > 1",
        "the geometry function AREA is not supported by this service",
        1,
        40,
    ),
    ("SELECT CENTROID(CIRCLE(1, 2, 3)) FROM provenance.entity", "CENTROID", 1, 8),
    ("SELECT CAST(id AS TEXT) FROM provenance.entity", "CAST to TEXT", 1, 19),
    ("SELECT CAST(id AS INT) FROM provenance.entity", "CAST to INT", 1, 19),
    ("SELECT CAST(size_bytes AS NUMERIC) FROM provenance.entity", "CAST to NUMERIC", 1, 27),
    ("SELECT CAST(id AS regclass) FROM provenance.entity", "CAST to", 1, 19),
    ("SELECT CAST(id AS VARCHAR(0)) FROM provenance.entity", "positive integer", 1, 19),
    ("SELECT CAST(id AS INTEGER(2)) FROM provenance.entity", "takes no length", 1, 19),
    # --- empty select lists (PostgreSQL would accept them; no VOTable can carry them)
    ("SELECT FROM provenance.entity", "SELECT needs a select list", 1, 8),
    ("SELECT DISTINCT FROM provenance.entity", "DISTINCT needs a select list", 1, 17),
    ("SELECT TOP 3 FROM provenance.entity", "SELECT needs a select list", 1, 14),
    ("SELECT * FROM (SELECT FROM provenance.entity) AS x", "needs a select list", 1, 23),
    # --- tables
    ("SELECT * FROM pg_catalog.pg_shadow", "unknown table 'pg_catalog.pg_shadow'", 1, 26),
    ("SELECT * FROM pg_shadow", "unknown table 'pg_shadow'", 1, 15),
    ("SELECT relname FROM pg_class", "unknown table 'pg_class'", 1, 21),
    ("SELECT * FROM information_schema.tables", "unknown table", 1, 34),
    ("SELECT * FROM public.users", "unknown table 'public.users'", 1, 22),
    ("SELECT * FROM archive.scan_file", "unknown table 'archive.scan_file'", 1, 23),
    ("SELECT * FROM db.provenance.entity", "unknown table", 1, 29),
    ("SELECT id FROM provenance.entiy", "did you mean 'provenance.entity'?", 1, 27),
    ("SELECT id FROM entiy", "did you mean 'entity'?", 1, 16),
    ('SELECT id FROM provenance."Entity"', "unknown table", 1, 27),
    ("SELECT id FROM provenance.entity e, provenance.agent e", "'e' names two tables", 1, 54),
    ("SELECT id FROM (SELECT id FROM provenance.entity)", "needs an alias", 1, 17),
    # --- columns
    ("SELECT nme FROM provenance.entity", "unknown column 'nme' in provenance.entity", 1, 8),
    ("SELECT e.nme FROM provenance.entity AS e", "did you mean 'name'?", 1, 10),
    ('SELECT "Name" FROM provenance.entity', "unknown column 'Name'", 1, 8),
    ("SELECT x.id FROM provenance.entity AS e", "unknown table or alias 'x'", 1, 8),
    (
        "SELECT name FROM provenance.entity, provenance.agent",
        "column 'name' is ambiguous",
        1,
        8,
    ),
    ("SELECT id FROM provenance.entity\nWHERE\n  sise_bytes > 1", "sise_bytes", 3, 3),
    ("SELECT e FROM provenance.entity AS e", "unknown column 'e'", 1, 8),
    ("SELECT current_user FROM provenance.entity", "'current_user' is an ADQL reserved", 1, 8),
    ("SELECT session_user FROM provenance.entity", "reserved word", 1, 8),
    ("SELECT pg_backend_pid FROM provenance.entity", "unknown column", 1, 8),
    ("SELECT id FROM provenance.entity ORDER BY nope", "unknown column 'nope'", 1, 43),
    (
        "SELECT a.id FROM provenance.activity a JOIN provenance.used u USING (nope)",
        "USING",
        1,
        70,
    ),
    (
        "SELECT id FROM provenance.entity UNION SELECT id FROM provenance.agent ORDER BY x",
        "unknown column 'x' in the result of the UNION",
        1,
        81,
    ),
    ("SELECT x.n FROM (SELECT COUNT(*) FROM provenance.entity) AS x", "unknown column 'n'", 1, 10),
    # --- reserved words
    ("SELECT size FROM tap_schema.columns", "'size' is an ADQL reserved word", 1, 8),
    ("SELECT id AS value FROM provenance.entity", "'value' is an ADQL reserved word", 1, 14),
    ("SELECT e.id FROM provenance.entity AS time", "'time' is an ADQL reserved word", 1, 39),
    ("SELECT _x FROM provenance.entity", "not a valid ADQL name", 1, 8),
    ("SELECT id FROM provenance.entity WHERE name = 'é' AND naïve = 1", "not a valid", 1, 55),
]


@pytest.mark.parametrize(("adql", "message", "line", "column"), CASES)
def test_refused(adql: str, message: str, line: int | None, column: int | None) -> None:
    err = refuse(adql)
    assert message in err.message + " " + (err.hint or ""), str(err)
    assert (err.line, err.column) == (line, column), str(err)
    if line is not None:
        assert str(err).startswith(f"line {line}, column {column}: ")


def test_message_format_with_suggestion() -> None:
    err = refuse("SELECT nme FROM provenance.entity")
    assert str(err) == (
        "line 1, column 8: unknown column 'nme' in provenance.entity (did you mean 'name'?)"
    )
    assert err.hint == "did you mean 'name'?"


def test_reserved_word_hint() -> None:
    err = refuse("SELECT size FROM tap_schema.columns")
    assert err.hint == 'write it as a delimited identifier: "size"'


def test_ambiguous_column_lists_candidates() -> None:
    err = refuse("SELECT id FROM provenance.entity e JOIN provenance.used u ON u.entity_id = e.id")
    assert err.hint == "qualify it: e.id or u.id"


def test_error_is_picklable() -> None:
    err = refuse("SELECT nme FROM provenance.entity")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.message, copy.line, copy.column, copy.hint) == (
        err.message, err.line, err.column, err.hint,
    )  # fmt: skip


def test_deep_nesting_is_refused_not_crashing() -> None:
    depth = 400
    err = refuse("SELECT " + "(" * depth + "1" + ")" * depth + " FROM provenance.entity")
    assert "nested too deeply" in err.message


def test_strings_with_sql_are_data() -> None:
    t = translate(
        "SELECT id FROM provenance.entity WHERE name = 'a'';DROP TABLE x;--'",
        CATALOG,
        maxrec=None,
    )
    assert t.sql.endswith("= 'a'';DROP TABLE x;--'")


@pytest.mark.parametrize(
    "adql",
    [
        "SELECT id FROM provenance.entity WHERE id = 'x' UNION SELECT usename FROM pg_user",
        "SELECT id FROM provenance.entity WHERE id IN (SELECT datname FROM pg_database)",
        "SELECT id FROM provenance.entity WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles)",
        "WITH t AS (SELECT * FROM pg_settings) SELECT * FROM t",
        "SELECT id FROM provenance.entity e JOIN pg_stat_activity p ON p.pid = 1",
        "SELECT * FROM provenance.entity, pg_temp.tap_upload_x",
        "SELECT * FROM TAP_UPLOAD.x",
    ],
)
def test_system_tables_are_unknown_everywhere(adql: str) -> None:
    err = refuse(adql)
    assert "unknown" in err.message and err.line == 1
