"""Hostile and careless requests for every endpoint, and what an answer to them must be.

Shared by tests/tap/test_fuzz_service.py (a bounded budget in CI) and
bench/fuzz_service.py (a longer run that records how many cases ran and how many 5xx
were found). The strategies mutate the shipped ADQL examples with grammar tokens and
arbitrary text, and fill the HTTP parameters of TAP sync/async/UWS, VOSI, ProvSAP, the
UI and ``/ingest`` with valid, borderline and junk values.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import requests
from hypothesis import strategies as st

__all__ = ["ENDPOINTS", "FuzzRequest", "check_response", "send"]

EXAMPLES = [
    p.read_text()
    for p in sorted((Path(__file__).resolve().parents[2] / "tap").glob("example_queries/*.adql"))
]
TOKENS = [
    "SELECT",
    "TOP",
    "DISTINCT",
    "FROM",
    "WHERE",
    "JOIN",
    "ON",
    "GROUP BY",
    "HAVING",
    "ORDER BY",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "WITH",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "IS NULL",
    "CASE",
    "WHEN",
    "THEN",
    "END",
    "CAST(",
    "COUNT(*)",
    "OFFSET",
    "(",
    ")",
    ",",
    ";",
    "'",
    '"',
    "*",
    "/",
    "--",
    "/*",
    "1e999",
    "-1",
    "9999999999999999999999",
    "POINT('ICRS', 1, 2)",
    "CONTAINS(",
    "TAP_UPLOAD.t",
    "TAP_SCHEMA.tables",
    "pg_catalog.pg_class",
    "pg_sleep(10)",
    "provenance.entity",
    "provenance.activity",
    "\x00",
    "\u202e",
    "é",
    "\\",
    "$$",
    "LOWER(",
    "COALESCE(",
]
IDS = [
    "",
    "x",
    "0",
    "provdb:x",
    "urn:provdb:",
    "/data/file.fits",
    "\x00",
    "%00",
    "a" * 300,
    "'; --",
]
NUMBERS = ["", "0", "1", "-1", "10", "ALL", "all", "1e3", "NaN", "99999999999999999999", " 5 ", "x"]
FORMATS = [
    "",
    "votable",
    "csv",
    "tsv",
    "json",
    "fits",
    "text/csv",
    "application/x-votable+xml",
    "votable/b2",
    "PROV-JSON",
    "PROV-N",
    "PROV-XML",
    "PROV-VOTABLE",
    "SVG",
    "DOT",
    "html",
    "\x00",
]
PHASES = [
    "",
    "RUN",
    "ABORT",
    "PENDING",
    "QUEUED",
    "EXECUTING",
    "COMPLETED",
    "ERROR",
    "ARCHIVED",
    "run",
    "x",
]
TIMES = ["", "2030-01-01T00:00:00Z", "2000-01-01", "now", "9999-12-31T23:59:59", "-1", "x"]

junk = st.text(max_size=60)
small = st.one_of(st.sampled_from(NUMBERS), junk)


@st.composite
def adql(draw: st.DrawFn) -> str:
    """An example query after a few edits: cut a slice, insert a token or junk, swap case."""
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["cut", "token", "junk", "upper"]))
        if edit == "cut":
            text = text[:pos] + text[pos + draw(st.integers(1, 40)) :]
        elif edit == "token":
            text = text[:pos] + " " + draw(st.sampled_from(TOKENS)) + " " + text[pos:]
        elif edit == "junk":
            text = text[:pos] + draw(junk) + text[pos:]
        else:
            text = text.upper()
    return text


@dataclass
class FuzzRequest:
    """One request: method, path below the site root, query string and form items."""

    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    data: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


def _items(**choices: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """A subset of the named parameters (each maybe repeated), in any case."""
    pair = st.sampled_from(sorted(choices)).flatmap(
        lambda name: st.tuples(st.sampled_from([name, name.lower()]), choices[name])
    )
    return st.lists(pair, max_size=6)


tap_params = _items(
    LANG=st.sampled_from(["ADQL", "ADQL-2.1", "adql", "SQL", "", "PQL"]) | junk,
    QUERY=adql() | junk,
    MAXREC=small,
    RESPONSEFORMAT=st.sampled_from(FORMATS) | junk,
    FORMAT=st.sampled_from(FORMATS),
    RUNID=junk,
    UPLOAD=st.sampled_from(
        [
            "t,param:x",
            "t,http://127.0.0.1:1/x",
            "bad name,param:x",
            "t",
            ",",
            "t,file:///etc/passwd",
        ]
    )
    | junk,
    PHASE=st.sampled_from(PHASES),
    REQUEST=st.sampled_from(["doQuery", "getCapabilities", "x"]),
)
uws_params = _items(
    PHASE=st.sampled_from(PHASES) | junk,
    DESTRUCTION=st.sampled_from(TIMES) | junk,
    EXECUTIONDURATION=small,
    QUERY=adql(),
    LANG=st.just("ADQL"),
    WAIT=st.sampled_from(["", "0", "1", "-1", "x", "99999999999"]),
    AFTER=st.sampled_from(TIMES),
    LAST=small,
)
provsap_params = _items(
    ID=st.sampled_from(IDS) | junk,
    DEPTH=small,
    DIRECTION=st.sampled_from(["BACK", "FORTH", "back", "", "x"]),
    AGENT=st.sampled_from(["TRUE", "FALSE", "1", "0", "", "maybe"]),
    MEMBERS=st.sampled_from(["TRUE", "FALSE", "x"]),
    MODEL=st.sampled_from(["IVOA", "W3C", "x", ""]),
    RESPONSEFORMAT=st.sampled_from(FORMATS) | junk,
    MAXREC=small,
    STEPS=st.sampled_from(["TRUE", "FALSE", "x"]),
)
ui_params = _items(
    q=junk,
    id=st.sampled_from(IDS) | junk,
    format=st.sampled_from(["html", "json", "svg", "x", ""]),
    limit=small,
    step=junk,
    package=junk,
    version=junk,
    product_type=junk,
    subruns=junk,
    a=st.sampled_from(IDS) | junk,
    b=st.sampled_from(IDS) | junk,
    by=junk,
    night=junk,
    run=junk,
    query=adql() | junk,
    depth=small,
    direction=junk,
    affected=junk,
)
segment = st.one_of(st.sampled_from(IDS[1:]), st.text(min_size=1, max_size=30)).map(
    lambda s: requests.utils.quote(s, safe="")
)
job_id = st.one_of(
    st.sampled_from(["0123456789abcdef", "ffffffffffffffff", "%00", "x" * 16, "..%2F..%2Fetc"]),
    segment,
)
uws_sub = st.sampled_from(
    [
        "",
        "/phase",
        "/executionduration",
        "/destruction",
        "/quote",
        "/owner",
        "/error",
        "/parameters",
        "/results",
        "/results/result",
        "/x",
    ]
)


def _req(method: st.SearchStrategy[str], path: st.SearchStrategy[str], params, data=None):
    data = st.just([]) if data is None else data
    return st.builds(FuzzRequest, method=method, path=path, params=params, data=data)


#: endpoint group -> strategy of requests; ``{job}`` in a path is a real job of the run
ENDPOINTS: dict[str, st.SearchStrategy[FuzzRequest]] = {
    "tap-sync": _req(
        st.sampled_from(["GET", "POST"]), st.just("/tap/sync"), tap_params, tap_params
    ),
    "tap-async": _req(
        st.sampled_from(["GET", "POST"]), st.just("/tap/async"), uws_params, tap_params
    ),
    "uws-job": _req(
        st.sampled_from(["GET", "POST", "DELETE"]),
        st.builds(lambda j, s: f"/tap/async/{j}{s}", st.one_of(st.just("{job}"), job_id), uws_sub),
        uws_params,
        uws_params,
    ),
    "vosi": _req(
        st.just("GET"),
        st.one_of(
            st.sampled_from(
                [
                    "/tap",
                    "/tap/",
                    "/tap/availability",
                    "/tap/capabilities",
                    "/tap/tables",
                    "/tap/examples",
                    "/tap/tables/provenance.entity",
                ]
            ),
            segment.map(lambda s: "/tap/tables/" + s),
            segment.map(lambda s: "/tap/" + s),
        ),
        _items(detail=st.sampled_from(["min", "max", "x"]), REQUEST=junk),
    ),
    "provsap": _req(
        st.sampled_from(["GET", "POST"]), st.just("/tap/provsap"), provsap_params, provsap_params
    ),
    "ui": _req(
        st.sampled_from(["GET", "GET", "POST"]),
        st.one_of(
            st.sampled_from(
                [
                    "/ui/",
                    "/ui/search",
                    "/ui/entity",
                    "/ui/activity",
                    "/ui/agent",
                    "/ui/graph",
                    "/ui/versions",
                    "/ui/adql",
                    "/ui/diff",
                    "/ui/stats",
                ]
            ),
            st.builds(
                lambda k, s: f"/ui/{k}/{s}",
                st.sampled_from(
                    ["entity", "activity", "agent", "environment", "reproduce", "night", "x"]
                ),
                segment,
            ),
            st.builds(lambda a, b: f"/ui/run/{a}/{b}", segment, segment),
        ),
        ui_params,
        ui_params,
    ),
    "ingest": st.builds(
        FuzzRequest,
        method=st.sampled_from(["POST", "GET"]),
        path=st.sampled_from(["/ingest", "/ingest/status"]),
        params=_items(
            name=junk, sha256=junk, offset=small, format=junk, timezone=junk, ingest=junk
        ),
        headers=st.sampled_from(
            [
                {},
                {"Authorization": "Bearer x"},
                {"Authorization": "Basic Zm9v"},
                {"Authorization": "Bearer " + "a" * 64},
                {"Content-Range": "bytes x"},
            ]
        ),
        body=st.binary(max_size=200),
    ),
}


def send(site: str, req: FuzzRequest, job: str, timeout: float = 60) -> requests.Response:
    """Send ``req`` to ``site`` (no redirects followed: a 303 is an answer too)."""
    url = site + req.path.replace("{job}", job)
    return requests.request(
        req.method,
        url,
        params=req.params or None,
        data=req.body if req.body is not None else (req.data or None),
        headers=req.headers,
        timeout=timeout,
        allow_redirects=False,
    )


def check_response(req: FuzzRequest, r: requests.Response) -> str | None:
    """None if the answer is acceptable, else what is wrong with it.

    Never a 5xx; an error of a TAP endpoint is a DALI error VOTable
    (``QUERY_STATUS=ERROR``), of the UI an HTML page, of /ingest a JSON document.
    """
    if r.status_code >= 500:
        return f"HTTP {r.status_code}: {r.text[:300]!r}"
    if r.status_code < 400:
        return None
    kind = r.headers.get("Content-Type", "")
    if req.path.startswith("/tap"):
        if "xml" not in kind:
            return f"HTTP {r.status_code} with {kind!r}, not a DALI error VOTable"
        try:
            root = ET.fromstring(r.content)
        except ET.ParseError as exc:
            return f"HTTP {r.status_code}: error document is not XML ({exc})"
        infos = [
            e for e in root.iter() if e.tag.endswith("INFO") and e.get("name") == "QUERY_STATUS"
        ]
        if not infos or infos[0].get("value") != "ERROR":
            return f"HTTP {r.status_code}: no QUERY_STATUS=ERROR in the error document"
        return None
    if req.path.startswith("/ui"):
        return None if "text/html" in kind or "json" in kind else f"UI error as {kind!r}"
    if req.path.startswith("/ingest"):
        return None if "json" in kind or "xml" in kind else f"/ingest error as {kind!r}"
    return None
