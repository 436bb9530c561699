"""The settings registry: one declaration per PROVDB_* variable, read only through it."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from provdb import settings
from provdb.config import IngestLimits, ObsCoreSettings, Settings
from provdb.errors import ConfigError
from provdb.settings import catalog
from provdb.settings.render import MARKDOWN_BEGIN, MARKDOWN_END, listing, markdown
from tap.config import FIELDS, TapConfig
from tests.conftest import REPO, run_cli

#: PROVDB_ names that are not provdb settings: docker compose's own (docker/env.example),
#: and the Flask app.config key holding the database Settings
NOT_SETTINGS = {"PROVDB_DB_PASSWORD", "PROVDB_SETTINGS"}


def _python_files(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (REPO / top).rglob("*.py"))


#: what ``_env_reads`` reports for a read whose variable name is computed at run time
COMPUTED = "<computed name>"


def _env_reads(source: str) -> list[str]:
    """PROVDB_ names read from the environment in ``source`` (get, [], getenv, pop), and
    :data:`COMPUTED` for a read of ``os.environ`` under a name computed at run time (it
    may be a PROVDB_ name, e.g. ``--token-env``: the registry's ``variable=`` reads it)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        target = key = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ("get", "getenv", "pop"):
                target, key = func.value, node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            target, key = node.value, node.slice
        if key is None:
            continue
        where = ast.unparse(target) if target is not None else ""
        environ = where in ("os", "os.environ", "environ", "env") or where.endswith(".environ")
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            if where in ("os", "os.environ"):
                found.append(COMPUTED)
            continue
        if environ and key.value.startswith("PROVDB_"):
            found.append(key.value)
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import os\nx = os.environ.get('PROVDB_X')\n",
        "import os\nx = os.environ['PROVDB_X']\n",
        "import os\nx = os.getenv('PROVDB_X', '1')\n",
        "def f(env):\n    return env.get('PROVDB_X') or 3\n",
    ],
)
def test_the_scan_finds_each_kind_of_environment_read(source: str) -> None:
    assert _env_reads(source) == ["PROVDB_X"]


@pytest.mark.parametrize(
    "source",
    [
        "import os\nx = os.environ.get(name, '').strip()\n",
        "import os\nx = os.getenv(opts.token_env)\n",
        "import os\nx = os.environ[name]\n",
    ],
)
def test_the_scan_finds_reads_under_a_computed_name(source: str) -> None:
    assert _env_reads(source) == [COMPUTED]


def test_the_scan_ignores_writes_and_app_config() -> None:
    source = "import os\nos.environ['PROVDB_X'] = '1'\ny = app.config.get('PROVDB_UI_MAX_ROWS')\n"
    assert _env_reads(source) == []


def test_no_code_reads_a_provdb_variable_outside_the_registry() -> None:
    registry = REPO / "provdb" / "settings"
    offenders = [
        f"{path.relative_to(REPO)}: {name}"
        for path in _python_files("provdb", "tap")
        if registry not in path.parents
        for name in _env_reads(path.read_text())
    ]
    assert offenders == []


def test_every_provdb_name_in_code_and_docs_is_declared() -> None:
    # the tests themselves use made-up names (PROVDB_X): only their shared fixtures count
    texts = [p.read_text() for p in _python_files("provdb", "tap", "bench")]
    texts += [(REPO / n).read_text() for n in ("README.md", "CHANGELOG.md", "tests/conftest.py")]
    texts += [p.read_text() for p in (REPO / "docs").glob("*.md")]
    # a name ending in "_" is a prefix in prose ("PROVDB_OBSCORE_*")
    names = {n for t in texts for n in re.findall(r"PROVDB_[A-Z0-9_]*[A-Z0-9]\b", t)}
    undeclared = sorted(names - set(settings.SETTINGS) - NOT_SETTINGS)
    assert undeclared == []


def test_each_setting_is_declared_once_in_a_known_group() -> None:
    assert len(catalog._DECLARED) == len(settings.SETTINGS)
    for item in settings.SETTINGS.values():
        assert item.name.startswith("PROVDB_") and item.group in catalog.GROUPS
        assert item.help.endswith("."), item.name


@pytest.mark.parametrize("item", list(settings.SETTINGS.values()), ids=lambda s: s.name)
def test_each_default_is_a_value_its_kind_accepts(item: settings.Setting) -> None:
    if item.default in (None, ""):
        return
    assert item.kind.parse(item.kind.show(item.default)) == item.default


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("PROVDB_TAP_MAXREC", "0", 0),
        ("PROVDB_TAP_MAXREC", "5_000", 5000),
        ("PROVDB_TAP_UPLOAD_BYTES", "20MB", 20_000_000),
        ("PROVDB_TAP_UPLOAD_BYTES", "64MiB", 64 << 20),
        ("PROVDB_TAP_UPLOAD_BYTES", "1.5kB", 1500),
        ("PROVDB_INGEST_MAX_LINE_BYTES", " 4096 ", 4096),
        ("PROVDB_TAP_EXECUTION", "5min", 300),
        ("PROVDB_TAP_RETENTION", "2d", 172_800),
        ("PROVDB_TAP_TRANSLATE_SECONDS", "0.5", 0.5),
        ("PROVDB_TAP_READ_AUTH", "yes", True),
        ("PROVDB_METRICS", "OFF", False),
        ("PROVDB_TAP_BASE_URL", "https://a.example.org/tap", "https://a.example.org/tap"),
        ("PROVDB_TAP_ALLOWED_HOSTS", "A.example.org, ,.b.org", ("a.example.org", ".b.org")),
        ("PROVDB_SVG_ENGINE", "Auto", "auto"),
        ("PROVDB_OBSCORE_AUTHORITY", "ivo://example.org/lst?", "ivo://example.org/lst"),
        ("PROVDB_OBSCORE_FOV", "5", 5.0),
        ("PROVDB_HOME", "/data/provdb/", Path("/data/provdb")),
        ("PROVDB_TAP_MAXREC", "", 100_000),  # blank: the default
    ],
)
def test_values_are_parsed_by_their_kind(name: str, text: str, expected: object) -> None:
    assert settings.value(name, {name: text}) == expected
    assert settings.source(name, {name: text}) == ("env" if text.strip() else "default")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("PROVDB_TAP_MAXREC", "abc", "PROVDB_TAP_MAXREC='abc': expected an integer >= 0"),
        ("PROVDB_TAP_MAXREC", "-1", "PROVDB_TAP_MAXREC='-1': expected an integer >= 0"),
        (
            "PROVDB_TAP_UPLOAD_BYTES",
            "20 parsecs",
            "PROVDB_TAP_UPLOAD_BYTES='20 parsecs': expected a size >= 1 bytes, like "
            "20000000, 20MB or 64MiB",
        ),
        (
            "PROVDB_TAP_EXECUTION",
            "1.5",
            "PROVDB_TAP_EXECUTION='1.5': expected a whole number of seconds >= 0 "
            "(like 30, 90s, 5min, 2h, 2d)",
        ),
        (
            "PROVDB_TAP_WAIT_MAX",
            "0",
            "PROVDB_TAP_WAIT_MAX='0': expected a whole number of seconds >= 1 "
            "(like 30, 90s, 5min, 2h, 2d)",
        ),
        (
            "PROVDB_METRICS",
            "maybe",
            "PROVDB_METRICS='maybe': expected 1 or 0 (also true/false, yes/no, on/off)",
        ),
        (
            "PROVDB_TAP_BASE_URL",
            "archive.example.org/tap",
            "PROVDB_TAP_BASE_URL='archive.example.org/tap': expected an http(s) URL with a "
            "host, like https://archive.example.org/tap",
        ),
        (
            "PROVDB_TAP_ALLOWED_HOSTS",
            " , ",
            "PROVDB_TAP_ALLOWED_HOSTS=' , ': expected a comma-separated list, like "
            "a.example.org, b.example.org",
        ),
        (
            "PROVDB_SVG_ENGINE",
            "neato",
            "PROVDB_SVG_ENGINE='neato': expected one of auto, dot, python",
        ),
        (
            "PROVDB_PROVSAP_NODE_LIMIT",
            "lots",
            "PROVDB_PROVSAP_NODE_LIMIT='lots': expected an integer >= 1",
        ),
        (
            "PROVDB_UI_URL_PATTERN",
            "/ui/{type}/{id}",
            "PROVDB_UI_URL_PATTERN='/ui/{type}/{id}': expected a URL pattern using {kind}, "
            "{id}, like https://data.example.org{kind} (not a valid pattern: 'type')",
        ),
        (
            "PROVDB_DATABASE_URL",
            "mysql://u@h/db",
            "PROVDB_DATABASE_URL='mysql://u@h/db': expected a PostgreSQL URL like "
            "postgresql+psycopg://user:pw@host:5432/provdb",
        ),
        (
            "PROVDB_SERVICE_CONTACT_EMAIL",
            "ops@",
            "PROVDB_SERVICE_CONTACT_EMAIL='ops@': expected an e-mail address like ops@example.org",
        ),
    ],
)
def test_a_bad_value_names_the_variable_and_what_is_allowed(
    name: str, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings.value(name, {name: text})
    assert str(caught.value) == message


def test_a_setting_is_read_from_another_variable_when_asked() -> None:
    # provdb push --token-env NAME: PROVDB_TOKEN's declaration, NAME's text
    env = {"PROVDB_TOKEN": "provdb_default", "CLUSTER_TOKEN": " provdb_cluster "}
    assert settings.value("PROVDB_TOKEN", env, variable="CLUSTER_TOKEN") == "provdb_cluster"
    assert settings.value("PROVDB_TOKEN", env) == "provdb_default"
    assert settings.value("PROVDB_TOKEN", env, variable="UNSET_TOKEN") is None  # the default
    # a bad value names the variable that was read, and a secret is never shown
    assert settings.value("PROVDB_TAP_MAXREC", {"MY_MAXREC": "12"}, variable="MY_MAXREC") == 12
    with pytest.raises(ConfigError, match=r"^MY_MAXREC='x': expected an integer >= 0"):
        settings.value("PROVDB_TAP_MAXREC", {"MY_MAXREC": "x"}, variable="MY_MAXREC")


def test_check_reports_every_bad_value_in_one_line() -> None:
    env = {"PROVDB_TAP_MAXREC": "x", "PROVDB_SVG_ENGINE": "neato", "PROVDB_METRICS": "1"}
    with pytest.raises(ConfigError) as caught:
        settings.check(env)
    text = str(caught.value)
    assert "\n" not in text and "PROVDB_TAP_MAXREC='x'" in text and "PROVDB_SVG_ENGINE=" in text
    settings.check({"PROVDB_METRICS": "1"})  # nothing bad: no error


def test_typed_views_default_to_the_registry() -> None:
    assert TapConfig.from_env({}) == TapConfig()
    assert IngestLimits.from_env({}) == IngestLimits()
    assert ObsCoreSettings.from_env({}) == ObsCoreSettings()
    assert Settings.from_env({"PROVDB_HOME": "/x"}) == Settings(None, Path("/x"))
    internal = {"fetch_batch", "async_workers"}
    assert set(FIELDS) | internal == set(TapConfig.__dataclass_fields__)
    assert set(FIELDS.values()) <= set(settings.SETTINGS)


def test_typed_views_read_through_the_registry() -> None:
    config = TapConfig.from_env(
        {"PROVDB_TAP_UPLOAD_BYTES": "5MB", "PROVDB_UI_MAX_ROWS": "7", "PROVDB_INGEST_SPOOL": "/s"}
    )
    assert (config.upload_bytes, config.ui_max_rows, config.ingest_spool) == (5_000_000, 7, "/s")
    assert IngestLimits.from_env({"PROVDB_INGEST_MAX_LINE_BYTES": "1MiB"}).max_line_bytes == 1 << 20
    with pytest.raises(
        ConfigError, match=r"^PROVDB_INGEST_MAX_RATIO='0': expected an integer >= 1"
    ):
        IngestLimits.from_env({"PROVDB_INGEST_MAX_RATIO": "0"})


def test_listing_hides_secrets_and_passwords() -> None:
    env = {
        "PROVDB_TOKEN": "provdb_abc",
        "PROVDB_DATABASE_URL": "postgresql+psycopg://me:s3cret@db:5432/provdb",
    }
    rows = {r["name"]: r for r in listing(env)}
    assert rows["PROVDB_TOKEN"]["value"] == "***"
    assert rows["PROVDB_DATABASE_URL"]["value"] == "postgresql+psycopg://me:***@db:5432/provdb"
    assert rows["PROVDB_DATABASE_URL"]["source"] == "env"
    assert rows["PROVDB_TAP_MAXREC"] | {"help": ""} == {
        "name": "PROVDB_TAP_MAXREC",
        "group": "service",
        "type": "integer",
        "unit": "rows",
        "value": "100000",
        "source": "default",
        "default": "100000",
        "help": "",
        "error": None,
    }


def test_docs_settings_table_is_the_registry() -> None:
    page = (REPO / "docs" / "settings.md").read_text()
    begin, end = page.index(MARKDOWN_BEGIN), page.index(MARKDOWN_END)
    assert page[begin : end + len(MARKDOWN_END)] + "\n" == markdown(), (
        "docs/settings.md settings table is stale: run "
        "`python -m provdb.settings.render --write docs/settings.md`"
    )
    for name in settings.SETTINGS:
        assert f"| `{name}` |" in markdown()


def test_render_write_rewrites_a_stale_table_and_refuses_a_file_without_one(
    tmp_path: Path,
) -> None:
    page = tmp_path / "settings.md"
    page.write_text(f"# Settings\n\nintro\n\n{MARKDOWN_BEGIN}\n| stale |\n{MARKDOWN_END}\n\nend\n")
    command = [sys.executable, "-m", "provdb.settings.render", "--write", str(page)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert page.read_text() == f"# Settings\n\nintro\n\n{markdown()}\nend\n"
    # no marker lines: one line that says what is missing, the file untouched
    other = tmp_path / "other.md"
    other.write_text("# Nothing here\n")
    command[-1] = str(other)
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert "no settings table to replace" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert other.read_text() == "# Nothing here\n"


def test_settings_command_lists_values_and_sources() -> None:
    env = {"PROVDB_TAP_MAXREC": "5000", "PROVDB_TAP_UPLOAD_BYTES": "20MB", "PROVDB_TOKEN": "t0k"}
    result = run_cli("settings", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(rows) == set(settings.SETTINGS)
    assert (rows["PROVDB_TAP_MAXREC"]["value"], rows["PROVDB_TAP_MAXREC"]["source"]) == (
        "5000",
        "env",
    )
    assert rows["PROVDB_TAP_UPLOAD_BYTES"]["value"] == "20000000"
    assert rows["PROVDB_TAP_MAXREC_HARD"]["source"] == "default"
    assert "t0k" not in result.stdout
    text = run_cli("settings", "--changed", env=env)
    assert text.returncode == 0
    lines = [line.split() for line in text.stdout.splitlines() if line.startswith("  ")]
    assert ["PROVDB_TAP_MAXREC", "5000", "(env)"] in lines
    assert not any(line[0] == "PROVDB_TAP_MAXREC_HARD" for line in lines)
    markdown_out = run_cli("settings", "--format", "markdown")
    assert markdown_out.stdout == markdown()


def test_settings_command_fails_on_a_bad_value_with_one_line() -> None:
    result = run_cli("settings", env={"PROVDB_TAP_MAXREC": "abc"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "provdb: error: PROVDB_TAP_MAXREC='abc': expected an integer >= 0"
    ]
    assert "INVALID" in result.stdout


def test_serve_refuses_a_formerly_silent_bad_value_before_starting() -> None:
    # PROVDB_PROVSAP_NODE_LIMIT=lots used to fall back to 1000 without a word
    result = run_cli("serve", "--port", "1", env={"PROVDB_PROVSAP_NODE_LIMIT": "lots"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "provdb: error: PROVDB_PROVSAP_NODE_LIMIT='lots': expected an integer >= 1"
    )


def test_serve_help_lists_every_service_setting() -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for item in settings.SETTINGS.values():
        if item.group not in ("obscore", "backup", "ingest", "development"):
            assert item.name in result.stdout, item.name


def test_demo_refuses_a_bad_value_before_it_loads(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"PROVDB_HOME": str(home), "PROVDB_SVG_ENGINE": "neato"}
    result = run_cli("demo", "--no-serve", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "provdb: error: PROVDB_SVG_ENGINE='neato': expected one of auto, dot, python"
    ]
    assert not home.exists()  # nothing started, nothing loaded
