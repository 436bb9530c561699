"""What a one-row /sync query no longer builds for every request (docs/performance.md,
"One small query"): the literal split without the tokenizer, the FIELD elements of a
field list, the statements that open a run's transaction, the DataLink root URL. Each
must give exactly what it replaced, stay bounded, and follow what it depends on."""

from __future__ import annotations

import cProfile
import random

import pytest

from provdb.votable.fields import Field
from tap.adql import ADQLError
from tap.adql import literals as lit
from tap.adql.budget import deadline
from tap.adql.validate import tokenize
from tap.catalog import catalog_from_metadata
from tap.query import execute
from tap.query.run import _translate
from tap.votable import document

CATALOG = catalog_from_metadata()


def _tokenizer_split(adql: str) -> lit.LiteralSplit | None:
    """The split as the tokenizer alone makes it (the code before the fast path)."""
    tokens = tokenize(adql)
    parts, values, position = [], [], 0
    for token in tokens:
        if token.token_type != lit.TokenType.STRING:
            continue
        parts.append(adql[position : token.start])
        parts.append(f"'{lit._marker(len(values))}'")
        values.append(token.text)
        position = token.end + 1
    if not values:
        return None
    parts.append(adql[position:])
    return lit.LiteralSplit("".join(parts), tuple(values))


def test_the_fast_literal_split_agrees_with_the_tokenizer() -> None:
    # random queries built from the characters that matter around string literals
    pieces = ["'", "''", "a", "N", "x", "1", "_", "$", "=", " ", "\n", "\t", "(", ",", ";"]
    pieces += ["::", "/*", "*", "-", ">", "é", "WHERE ", "SELECT "]
    rng = random.Random(17)
    fast_used = 0
    for _ in range(20_000):
        body = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        query = "SELECT a FROM t WHERE b = " + body
        fast = lit._split_fast(query)
        if fast is None:
            continue  # left to the tokenizer
        fast_used += 1
        try:
            expected = _tokenizer_split(query)
        except ADQLError:
            # the query does not tokenize: its template must not either, so that the
            # query's own translation reports the error, as before
            with pytest.raises(ADQLError):
                tokenize(fast.template if fast else query)
            continue
        assert (fast or None) == expected, query
    assert fast_used > 10_000  # the fast path is the common one


@pytest.mark.parametrize(
    "query",
    [
        "SELECT \"it's\" FROM t WHERE a = 'x'",  # a quote inside a quoted identifier
        "SELECT a FROM t WHERE b = 'x' -- it's a comment",
        "SELECT a FROM t WHERE b = N'x'",  # a national string: not a STRING token
        "SELECT a FROM t WHERE b = 'ab'\n  'cd'",  # one literal in two parts (ADQL 2.1)
        "SELECT a FROM t WHERE b = 'unterminated",
        "SELECT a FROM t WHERE b = 'a\\'",
    ],
)
def test_queries_the_fast_split_leaves_to_the_tokenizer(query: str) -> None:
    assert lit._split_fast(query) is None
    try:
        expected = _tokenizer_split(query)
    except ADQLError:
        expected = None
    assert lit.split_literals(query) == expected


def test_a_query_that_does_not_tokenize_keeps_its_own_error() -> None:
    query = "SELECT id FROM provenance.entity WHERE id = 'x'; DROP TABLE t"
    assert lit._split_fast(query) is not None  # the fast path gives a template ...
    with pytest.raises(ADQLError) as direct:
        tokenize(query)
    with pytest.raises(ADQLError) as served:  # ... whose failure sends the query itself
        _translate(query, CATALOG, 100, {})
    assert str(served.value) == str(direct.value)


FIELDS = (
    Field("id", "char", arraysize="*", ucd="meta.id;meta.main", utype="voprov:Entity.id"),
    Field("name", "unicodeChar", arraysize="*", description='a "name" & <more>'),
    Field("size", "long", unit="byte"),
)


def _uncached_header(fields, datalink: str | None) -> tuple[str, str]:
    return document._table_head.__wrapped__(tuple(fields), datalink)


@pytest.mark.parametrize("datalink", [None, "http://example.org/datalink/links"])
def test_the_field_block_is_built_once_and_gives_the_same_bytes(datalink) -> None:
    document._table_head.cache_clear()
    first = document.VOTableEncoder(list(FIELDS), query="q1", datalink=datalink)
    second = document.VOTableEncoder(list(FIELDS), query="q2 & <x>", datalink=datalink)
    info = document._table_head.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    fields_xml, descriptor = _uncached_header(FIELDS, datalink)
    assert fields_xml in first.header().decode() and fields_xml in second.header().decode()
    assert 'value="q2 &amp; &lt;x&gt;"' in second.header().decode()  # the query is its own
    assert first._descriptor == descriptor
    assert bool(descriptor) == bool(datalink)  # the id column gets its descriptor
    # every document ends as before: rows, footer, descriptor
    footer = first.footer(document.StreamResult(rows=0, overflow=False))
    assert footer.endswith(("</RESOURCE>\n" + descriptor + "</VOTABLE>\n").encode())


def test_the_field_block_follows_the_fields_and_the_links_url() -> None:
    document._table_head.cache_clear()
    document.VOTableEncoder(list(FIELDS), datalink="http://a/datalink/links")
    other_url = document.VOTableEncoder(list(FIELDS), datalink="http://b/datalink/links")
    renamed = (Field("id2", "char", arraysize="*"), *FIELDS[1:])
    other_fields = document.VOTableEncoder(list(renamed), datalink="http://a/datalink/links")
    assert document._table_head.cache_info().misses == 3
    assert "http://b/datalink/links" in other_url._descriptor
    assert 'name="id2"' in other_fields.header().decode()


def test_the_field_block_cache_is_bounded() -> None:
    document._table_head.cache_clear()
    bound = document._table_head.cache_parameters()["maxsize"]
    for i in range(bound + 10):
        document.VOTableEncoder([Field(f"c{i}", "int")])
    assert document._table_head.cache_info().currsize == bound


def test_the_setup_statements_are_built_once_per_combination() -> None:
    execute._setup_sql.cache_clear()
    one = execute._setup_sql("BEGIN READ ONLY", "provdb_tap_reader", 60, None, (7, 4))
    again = execute._setup_sql("BEGIN READ ONLY", "provdb_tap_reader", 60, None, (7, 4))
    assert one is again
    assert one == (
        b'BEGIN READ ONLY; SET LOCAL ROLE "provdb_tap_reader"; '
        b"SET LOCAL statement_timeout = 60000; SET LOCAL DateStyle = ISO; "
        b"SELECT s FROM generate_series(0, 3) AS s WHERE pg_try_advisory_xact_lock(7, s) "
        b"LIMIT 1"
    )
    # every input changes the text: nothing of one client or setting leaks to another
    variants = {
        execute._setup_sql("BEGIN READ ONLY", "provdb_tap_reader", 60, None, (8, 4)),
        execute._setup_sql("BEGIN READ ONLY", "provdb_tap_reader", 60, None, (7, 2)),
        execute._setup_sql("BEGIN READ ONLY", "provdb_tap_reader", 61, None, (7, 4)),
        execute._setup_sql("BEGIN READ ONLY", None, 60, None, (7, 4)),
        execute._setup_sql("BEGIN READ ONLY", "provdb_tap_reader", 60, "provdb-job-x", None),
        execute._setup_sql("BEGIN", None, 60, None, None),
    }
    assert len(variants) == 6 and one not in variants
    assert b"application_name = 'provdb-job-x'" in b" ".join(variants)
    bound = execute._setup_sql.cache_parameters()["maxsize"]
    for key in range(bound + 5):
        execute._setup_sql("BEGIN READ ONLY", None, 60, None, (key, 4))
    assert execute._setup_sql.cache_info().currsize == bound


def test_a_translation_under_cprofile_keeps_the_profiler() -> None:
    # the deadline's hook cannot replace a profiler written in C and put it back
    profile = cProfile.Profile()
    profile.enable()
    try:
        with deadline(5.0):
            _translate("SELECT TOP 1 id FROM provenance.entity", CATALOG, 7, {})
    finally:
        profile.disable()
    assert profile.getstats()  # it kept counting
