"""Server settings provdb gives its embedded PostgreSQL: memory sized for the machine,
and the distance between checkpoints.

``initdb`` writes PostgreSQL's own defaults, made for any machine: 128 MB of shared
buffers. An archive of a year of nights is tens of gigabytes, and on the year benchmark
4 GB of shared buffers read four to five times fewer blocks from outside PostgreSQL and
made the nights 5-10 % faster (docs/performance.md, "Redundant indexes, insert order, and the
parameter value index"). So at every start provdb writes ``provdb.conf`` in the data
folder (``PROVDB_EMBEDDED_SHARED_BUFFERS``, by default a quarter of the machine's
memory, 128 MiB to 4 GiB) and includes it from ``postgresql.conf``. ``ALTER SYSTEM``
still wins (``postgresql.auto.conf`` is read after it), so an operator's own choice
stays. The value takes effect when the server starts: a server already running keeps
its buffers until its last user leaves.

The same file sets ``max_wal_size`` (``PROVDB_EMBEDDED_MAX_WAL_SIZE``; by default
PostgreSQL's own 1 GiB). On the year benchmark, a longer checkpoint distance made the
nights faster only together with shared buffers big enough to keep the pages a night
changes between checkpoints (12 GB of each: two nights in 28.0 s instead of 34.1 s on
average); with 4 GB of buffers and 8 GB of WAL they were slower than with 1 GB
(docs/performance.md, "The checkpoint distance and the shared buffers"). So both are
raised together, by an operator who gives the server the memory, and the default
stays.

Pure functions and one writer of two small files; no database connection.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = [
    "CONF_NAME",
    "DEFAULT_MAX_WAL_SIZE",
    "MAX_AUTO",
    "MIN_MAX_WAL_SIZE",
    "MIN_SHARED_BUFFERS",
    "auto_shared_buffers",
    "config_text",
    "machine_memory",
    "write_server_config",
]

#: the file provdb writes in pgdata, included from postgresql.conf
CONF_NAME = "provdb.conf"
#: PostgreSQL's own default, and the least provdb sets
MIN_SHARED_BUFFERS = 128 << 20
#: the most the automatic size takes (the size measured on the year benchmark)
MAX_AUTO = 4 << 30
#: ``max_wal_size`` of the embedded server unless PROVDB_EMBEDDED_MAX_WAL_SIZE says
#: (PostgreSQL's own default: raising it alone made year nights slower, see above)
DEFAULT_MAX_WAL_SIZE = 1 << 30
#: the least PostgreSQL accepts (two WAL segments of 16 MiB)
MIN_MAX_WAL_SIZE = 32 << 20

_INCLUDE = f"include_if_exists = '{CONF_NAME}'"
_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),  # cgroup v2
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),  # cgroup v1
)


def machine_memory() -> int | None:
    """Bytes of memory this process may use: the machine's, or its container's limit
    when that is lower (``None`` if neither can be read)."""
    sizes: list[int] = []
    with contextlib.suppress(ValueError, OSError, AttributeError):  # not on every OS
        sizes.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for limit in _CGROUP_LIMITS:
        try:
            text = limit.read_text().strip()
        except OSError:
            continue
        if text.isdigit():  # "max" (v2) means no limit; v1 says so with a huge number
            sizes.append(int(text))
    return min(sizes) if sizes else None


def auto_shared_buffers(memory: int | None) -> int:
    """A quarter of ``memory`` bytes in whole MiB, between :data:`MIN_SHARED_BUFFERS` and
    :data:`MAX_AUTO` (PostgreSQL's default when the memory is unknown)."""
    if not memory:
        return MIN_SHARED_BUFFERS
    quarter = (memory // 4) >> 20 << 20
    return max(MIN_SHARED_BUFFERS, min(MAX_AUTO, quarter))


def config_text(shared_buffers: int, max_wal_size: int = DEFAULT_MAX_WAL_SIZE) -> str:
    """The contents of :data:`CONF_NAME` for ``shared_buffers`` and ``max_wal_size``
    bytes."""
    return (
        "# Written by provdb at each start of its embedded server; edit the settings,\n"
        "# not this file (PROVDB_EMBEDDED_SHARED_BUFFERS, PROVDB_EMBEDDED_MAX_WAL_SIZE).\n"
        "# ALTER SYSTEM overrides it.\n"
        f"shared_buffers = '{max(shared_buffers, MIN_SHARED_BUFFERS) >> 20}MB'\n"
        f"max_wal_size = '{max(max_wal_size, MIN_MAX_WAL_SIZE) >> 20}MB'\n"
    )


def write_server_config(
    pgdata: Path, shared_buffers: int, max_wal_size: int = DEFAULT_MAX_WAL_SIZE
) -> bool:
    """Write :data:`CONF_NAME` into the initialised data folder ``pgdata`` and include it
    from ``postgresql.conf`` (once); both keep the owner of ``postgresql.conf`` (the
    server's own user when provdb runs as root). Returns True if a file changed.
    ``max_wal_size`` changes take effect at the next reload or start."""
    main = pgdata / "postgresql.conf"
    owner = main.stat()
    changed = False
    conf = pgdata / CONF_NAME
    text = config_text(shared_buffers, max_wal_size)
    try:
        current = conf.read_text()
    except FileNotFoundError:
        current = None
    if current != text:
        conf.write_text(text)
        conf.chmod(0o600)
        changed = True
    lines = main.read_text().splitlines()
    if _INCLUDE not in (line.strip() for line in lines):
        with main.open("a") as out:
            out.write(f"\n# provdb's settings for its embedded server\n{_INCLUDE}\n")
        changed = True
    if os.geteuid() == 0:
        os.chown(conf, owner.st_uid, owner.st_gid)
    return changed
