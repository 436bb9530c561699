"""Every security limit is documented: docs/security.md and `provdb serve --help`."""

from __future__ import annotations

import pytest

from provdb.settings import setting
from tap.config import TapConfig
from tests.conftest import REPO, run_cli

SETTINGS = [
    "PROVDB_TAP_UPLOAD_BYTES",
    "PROVDB_TAP_UPLOAD_ROWS",
    "PROVDB_TAP_UPLOAD_TABLES",
    "PROVDB_TAP_UPLOAD_URLS",
    "PROVDB_TAP_UPLOAD_ALLOW",
    "PROVDB_TAP_UPLOAD_TIMEOUT",
    "PROVDB_TAP_MAX_JOBS_PER_CLIENT",
    "PROVDB_TAP_MAX_SYNC_PER_CLIENT",
    "PROVDB_TAP_MAX_STORED_JOBS",
    "PROVDB_TAP_JOB_LIST_MAX",
    "PROVDB_TAP_TRUST_FORWARDED_FOR",
    "PROVDB_PROVSAP_MAX_IDS",
    "PROVDB_PROVSAP_MAX_DEPTH",
    "PROVDB_TAP_READ_AUTH",
    "PROVDB_TAP_JOB_MAX_ATTEMPTS",
]


@pytest.mark.parametrize("name", SETTINGS)
def test_setting_is_read_and_documented_in_the_security_page(name: str) -> None:
    assert setting(name).group == "security"  # declared once, in the registry's group
    security = (REPO / "docs" / "security.md").read_text()
    assert security.startswith("# Security\n")
    assert name in security
    # read from the environment: a bad value is refused with the setting's name
    flag = name in (
        "PROVDB_TAP_UPLOAD_URLS",
        "PROVDB_TAP_TRUST_FORWARDED_FOR",
        "PROVDB_TAP_READ_AUTH",
    )
    bad = "maybe" if flag else ("a b" if name == "PROVDB_TAP_UPLOAD_ALLOW" else "x")
    from provdb.errors import ConfigError

    with pytest.raises(ConfigError, match=name):
        TapConfig.from_env({name: bad})


def test_job_max_attempts_must_be_positive() -> None:
    from provdb.errors import ConfigError

    with pytest.raises(
        ConfigError, match="PROVDB_TAP_JOB_MAX_ATTEMPTS='0': expected an integer >= 1"
    ):
        TapConfig.from_env({"PROVDB_TAP_JOB_MAX_ATTEMPTS": "0"})
    assert TapConfig.from_env({}).job_max_attempts == 3
    assert TapConfig.from_env({"PROVDB_TAP_JOB_MAX_ATTEMPTS": "5"}).job_max_attempts == 5


def test_serve_help_lists_the_settings() -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for name in SETTINGS:
        short = name.replace("PROVDB_PROVSAP_MAX_DEPTH", "_MAX_DEPTH").replace(
            "PROVDB_TAP_UPLOAD_ROWS", "_ROWS"
        )
        assert short in result.stdout, name
