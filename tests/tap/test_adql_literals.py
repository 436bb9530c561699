"""Translation templates (tap/adql/literals.py): a template filled with a query's string
literals must give exactly what translating that query gives."""

from __future__ import annotations

import pytest

from tap.adql import ADQLError, translate
from tap.adql.literals import fill, split_literals, usable
from tap.catalog import catalog_from_metadata
from tap.query import run

CATALOG = catalog_from_metadata()

QUERIES = [
    "SELECT * FROM provenance.entity WHERE id = '61d40995281b0b561ea9a6aba0f0f7cc'",
    "SELECT id FROM provenance.entity WHERE name = 'it''s' AND location LIKE 'a\\b%'",
    "SELECT id FROM provenance.entity WHERE location ILIKE '%/DL2/%' OR name = 'é 😀'",
    "SELECT 'constant', 'x' AS y, id FROM provenance.entity WHERE id IN ('a', 'b', 'a')",
    "SELECT TOP 3 id FROM provenance.activity\n WHERE start_time > '2020-01-01'\n"
    "  AND name = 'r0_to_dl1' -- the 'step'\nORDER BY id",
    "SELECT COALESCE(comment, 'none') AS c FROM provenance.entity WHERE UPPER(name) = 'ABC'",
    "SELECT id FROM provenance.entity WHERE CAST(size_bytes AS VARCHAR(20)) = '10000000'",
    "SELECT a.id FROM provenance.activity AS a JOIN provenance.used AS u "
    "ON u.activity_id = a.id WHERE u.role = 'Coefficients calibration file'",
    "SELECT id FROM provenance.entity WHERE id = '' OR id = ''''",
]


@pytest.mark.parametrize("query", QUERIES)
def test_filled_template_equals_the_translation(query: str) -> None:
    split = split_literals(query)
    assert split is not None and split.values
    template = translate(split.template, CATALOG, maxrec=1000)
    assert usable(template, split)
    direct = translate(query, CATALOG, maxrec=1000)
    filled = fill(template, split.values)
    assert filled.sql == direct.sql
    assert filled.fields == direct.fields
    assert (filled.top, filled.limit, filled.tables) == (direct.top, direct.limit, direct.tables)


def test_literal_values_are_unquoted() -> None:
    split = split_literals("SELECT 'a''b', 'c\\d', '' FROM provenance.entity")
    assert split is not None
    assert split.values == ("a'b", "c\\d", "")
    assert "a''b" not in split.template


def test_queries_without_string_literals_have_no_template() -> None:
    assert split_literals("SELECT TOP 5 id FROM provenance.entity WHERE size_bytes > 3") is None
    assert split_literals("SELECT id FROM provenance.entity -- 'not a literal'") is None


def test_a_value_looking_like_a_marker_is_not_substituted_again() -> None:
    query = "SELECT id FROM provenance.entity WHERE id = 'x' OR name = 'y'"
    split = split_literals(query)
    assert split is not None
    template = translate(split.template, CATALOG, maxrec=10)
    marker_text = split.template.split("'")[1]  # the first marker, as a value
    filled = fill(template, (marker_text, "y"))
    assert filled.sql.count(marker_text) == 1
    assert (
        filled.sql
        == translate(
            f"SELECT id FROM provenance.entity WHERE id = '{marker_text}' OR name = 'y'",
            CATALOG,
            maxrec=10,
        ).sql
    )


def test_service_cache_uses_one_template_for_a_shape() -> None:
    catalog = catalog_from_metadata()  # a catalog of its own: a fresh cache
    first, shape = run._translate(
        "SELECT * FROM provenance.entity WHERE id = 'aaa'", catalog, 100, {}
    )
    split = split_literals("SELECT * FROM provenance.entity WHERE id = 'bbb'")
    assert split is not None
    template = run._TEMPLATES.get(catalog, (split.template, 100))
    assert template is not None and usable(template, split)
    second, shape2 = run._translate(
        "SELECT * FROM provenance.entity WHERE id = 'bbb'", catalog, 100, {}
    )
    assert shape == shape2 == template.sql  # one key for the result types of the shape
    assert second.sql == first.sql.replace("'aaa'", "'bbb'")
    assert (
        second.sql
        == translate("SELECT * FROM provenance.entity WHERE id = 'bbb'", catalog, maxrec=100).sql
    )


def test_errors_are_those_of_the_query_itself() -> None:
    catalog = catalog_from_metadata()
    bad = "SELECT nme FROM provenance.entity WHERE id = 'x'"
    with pytest.raises(ADQLError) as direct:
        translate(bad, catalog, maxrec=10)
    with pytest.raises(ADQLError) as cached:
        run._translate(bad, catalog, 10, {})
    assert str(cached.value) == str(direct.value)
    assert "line 1, column 8" in str(cached.value)


def test_string_literal_parts_are_one_template_literal() -> None:
    # #16: 'abc' -- note \n 'def' is one literal: one marker, one value
    query = "SELECT id FROM provenance.entity WHERE name = 'DL1' -- part\n'Subrun' OR id = 'x'"
    split = split_literals(query)
    assert split is not None and split.values == ("DL1Subrun", "x")
    template = translate(split.template, CATALOG, maxrec=10)
    assert usable(template, split)
    assert fill(template, split.values).sql == translate(query, CATALOG, maxrec=10).sql


def test_literal_dependent_refusals_do_not_leak_through_the_cache() -> None:
    # #16: a numeric column compared with a string is refused only when the string is not
    # a number; the shape's template (with a marker) is refused, so each query is
    # translated as it is
    catalog = catalog_from_metadata()
    ok, _ = run._translate(
        "SELECT id FROM provenance.entity WHERE size_bytes = '5'", catalog, 10, {}
    )
    assert ok.sql.endswith("\"size_bytes\" = '5' LIMIT 11")
    with pytest.raises(ADQLError) as bad:
        run._translate("SELECT id FROM provenance.entity WHERE size_bytes = 'big'", catalog, 10, {})
    assert "size_bytes is a numeric column" in str(bad.value)


@pytest.mark.parametrize(
    "value", ["abc", "", "a'b", "a\\b", "é 😀", "x\ny\tz", "\x01", "%_", "''", "E'x'", '"q"']
)
def test_filled_literal_is_what_the_dialect_writes(value: str) -> None:
    # fill() writes most values itself (no quote, no backslash); sqlglot writes the rest
    from sqlglot import exp

    from tap.adql.dialect import ADQL

    split = split_literals("SELECT id FROM provenance.entity WHERE name = 'v'")
    assert split is not None
    template = translate(split.template, CATALOG, maxrec=10)
    filled = fill(template, (value,))
    assert exp.Literal.string(value).sql(dialect=ADQL) in filled.sql
    assert filled.sql == template.sql.replace(
        template.sql[template.sql.index("'") : template.sql.rindex("'") + 1],
        exp.Literal.string(value).sql(dialect=ADQL),
    )
