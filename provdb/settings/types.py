"""The kinds of value a setting can hold: one parser per kind, each saying what it allows.

A kind turns the text of an environment variable into a typed value, or raises
:class:`ValueError` (with a detail, or empty). The registry turns that into the one-line
error ``NAME='text': expected <allowed> (<detail>)``, so every kind only says what it
accepts (:attr:`Kind.allowed`) and never names the variable itself.

Pure: no environment, no database, no Flask.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "ByteSize",
    "Choice",
    "DatabaseUrl",
    "Email",
    "Flag",
    "Folder",
    "Integer",
    "IvoaId",
    "Kind",
    "NetworkList",
    "Number",
    "Pattern",
    "Seconds",
    "Text",
    "TextList",
    "Url",
    "parse_allow_list",
]


class Kind:
    """What a setting holds; subclasses define :meth:`parse` and :attr:`allowed`."""

    #: short type name shown in ``provdb settings`` and the docs' settings table
    label: ClassVar[str] = "text"

    @property
    def allowed(self) -> str:
        """What the kind accepts, for error messages ("an integer >= 0")."""
        return "some text"

    def parse(self, text: str) -> Any:
        """The typed value of ``text`` (stripped, never empty); ValueError if unusable."""
        return text

    def show(self, value: Any) -> str:
        """``value`` as an operator would write it (for listings)."""
        if isinstance(value, tuple):
            return ", ".join(str(v) for v in value)
        return str(value)

    def mask(self, text: str) -> str:
        """``text`` as an error message may echo it (kinds holding passwords hide them)."""
        return text


def _bounds(low: float | None, high: float | None, what: str) -> str:
    if low is not None and high is not None:
        return f"{what} from {low:g} to {high:g}"
    if low is not None:
        return f"{what} >= {low:g}"
    if high is not None:
        return f"{what} <= {high:g}"
    return what


@dataclass(frozen=True)
class Integer(Kind):
    """A whole number within optional bounds."""

    label: ClassVar[str] = "integer"
    min: int | None = None
    max: int | None = None

    @property
    def allowed(self) -> str:
        return _bounds(self.min, self.max, "an integer")

    def parse(self, text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise ValueError("") from None  # int()'s own message adds nothing
        if (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        ):
            raise ValueError("")
        return value


@dataclass(frozen=True)
class Number(Kind):
    """A finite decimal number above ``above`` (exclusive)."""

    label: ClassVar[str] = "number"
    above: float | None = None

    @property
    def allowed(self) -> str:
        return "a number" + (f" > {self.above:g}" if self.above is not None else "")

    def parse(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("")
        if self.above is not None and not value > self.above:
            raise ValueError("")
        return value


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKMGT]i?B|B)?$")
_SIZE_FACTORS = {
    "B": 1,
    "kB": 10**3,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 1 << 10,
    "kiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
    "TiB": 1 << 40,
}


@dataclass(frozen=True)
class ByteSize(Kind):
    """A size in bytes: ``20000000``, ``20MB`` (10^6) or ``64MiB`` (2^20)."""

    label: ClassVar[str] = "bytes"
    min: int = 1

    @property
    def allowed(self) -> str:
        return f"a size >= {self.min} bytes, like 20000000, 20MB or 64MiB"

    def parse(self, text: str) -> int:
        found = _SIZE.match(text)
        if not found or (found.group(2) or "B") not in _SIZE_FACTORS:
            raise ValueError("")
        value = float(found.group(1)) * _SIZE_FACTORS[found.group(2) or "B"]
        if value != int(value) or value < self.min:
            raise ValueError("")
        return int(value)

    def show(self, value: Any) -> str:
        for unit in ("GiB", "MiB"):
            factor = _SIZE_FACTORS[unit]
            if value >= factor and value % factor == 0:
                return f"{value // factor}{unit}"
        return str(value)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|min|h|d)?$")
_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Seconds(Kind):
    """A duration in seconds: ``30``, ``90s``, ``5min``, ``2h``, ``2d``."""

    label: ClassVar[str] = "seconds"
    min: float = 0
    whole: bool = True

    @property
    def allowed(self) -> str:
        what = "a whole number of seconds" if self.whole else "a number of seconds"
        return f"{what} >= {self.min:g} (like 30, 90s, 5min, 2h, 2d)"

    def parse(self, text: str) -> float | int:
        found = _DURATION.match(text)
        if not found:
            raise ValueError("")
        value = float(found.group(1)) * _SECONDS[found.group(2) or "s"]
        if value < self.min or (self.whole and value != int(value)):
            raise ValueError("")
        return int(value) if self.whole else value


@dataclass(frozen=True)
class Flag(Kind):
    """On or off: 1/0, true/false, yes/no, on/off."""

    label: ClassVar[str] = "flag"

    @property
    def allowed(self) -> str:
        return "1 or 0 (also true/false, yes/no, on/off)"

    def parse(self, text: str) -> bool:
        word = text.lower()
        if word in ("1", "true", "yes", "on"):
            return True
        if word in ("0", "false", "no", "off"):
            return False
        raise ValueError("")

    def show(self, value: Any) -> str:
        return "1" if value else "0"


@dataclass(frozen=True)
class Text(Kind):
    """Any text (stripped)."""

    label: ClassVar[str] = "text"


@dataclass(frozen=True)
class Folder(Kind):
    """A folder path (``~`` expanded, made absolute); it need not exist yet."""

    label: ClassVar[str] = "path"

    @property
    def allowed(self) -> str:
        return "a folder path"

    def parse(self, text: str) -> Path:
        return Path(text).expanduser().absolute()


@dataclass(frozen=True)
class Choice(Kind):
    """One word of a fixed set (case-insensitive; the value is lower case)."""

    label: ClassVar[str] = "choice"
    options: tuple[str, ...] = ()

    @property
    def allowed(self) -> str:
        return "one of " + ", ".join(self.options)

    def parse(self, text: str) -> str:
        word = text.lower()
        if word not in self.options:
            raise ValueError("")
        return word


@dataclass(frozen=True)
class TextList(Kind):
    """A comma-separated list of words (empty items dropped; lower case if asked)."""

    label: ClassVar[str] = "list"
    lower: bool = False

    @property
    def allowed(self) -> str:
        return "a comma-separated list, like a.example.org, b.example.org"

    def parse(self, text: str) -> tuple[str, ...]:
        items = [i.strip() for i in text.split(",") if i.strip()]
        if not items:
            raise ValueError("")
        return tuple(i.lower() for i in items) if self.lower else tuple(items)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow_list(text: str) -> tuple[tuple[str, ...], tuple[Network, ...]]:
    """Split ``"mirror.lan, 10.1.0.0/16, ::1"`` into host names and networks.

    Raises
    ------
    ValueError
        An entry is neither a host name nor an address or network.
    """
    hosts: list[str] = []
    networks: list[Network] = []
    for raw in text.replace(";", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = entry.lower()
        label = name.lstrip(".")
        if not label or any(c in label for c in "/:@ ") or ".." in label:
            raise ValueError(f"{entry!r} is neither a host name nor an address or network")
        hosts.append(name)
    return tuple(hosts), tuple(networks)


@dataclass(frozen=True)
class NetworkList(Kind):
    """Host names (``.example.lan``: its subdomains too) and networks, comma-separated.

    The value stays the text (the service parses it with :func:`parse_allow_list`).
    """

    label: ClassVar[str] = "hosts"

    @property
    def allowed(self) -> str:
        return "host names and networks, comma-separated, like mirror.lan, .corp.lan, 10.1.0.0/16"

    def parse(self, text: str) -> str:
        parse_allow_list(text)
        return text


@dataclass(frozen=True)
class Url(Kind):
    """An absolute http(s) URL with a host."""

    label: ClassVar[str] = "URL"

    @property
    def allowed(self) -> str:
        return "an http(s) URL with a host, like https://archive.example.org/tap"

    def parse(self, text: str) -> str:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(text)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in text:
            raise ValueError("")
        return text


@dataclass(frozen=True)
class DatabaseUrl(Kind):
    """A PostgreSQL URL (SQLAlchemy form); shown with its password hidden."""

    label: ClassVar[str] = "URL"

    @property
    def allowed(self) -> str:
        return "a PostgreSQL URL like postgresql+psycopg://user:pw@host:5432/provdb"

    def parse(self, text: str) -> str:
        scheme = text.split("://", 1)[0] if "://" in text else ""
        if not scheme.startswith("postgres"):
            raise ValueError("")
        return text

    def show(self, value: Any) -> str:
        # user:password@host -> user:***@host: listings are pasted into tickets
        return _hide_password(str(value))

    def mask(self, text: str) -> str:
        return _hide_password(text)


def _hide_password(text: str) -> str:
    """``user:password@host`` -> ``user:***@host`` (listings and errors get pasted)."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", text)


@dataclass(frozen=True)
class DatabaseUrlList(Kind):
    """Comma-separated PostgreSQL URLs (e.g. read replicas); passwords hidden when shown."""

    label: ClassVar[str] = "URLs"

    @property
    def allowed(self) -> str:
        return (
            "comma-separated PostgreSQL URLs like "
            "postgresql://reader:pw@standby1:5432/provdb,postgresql://reader:pw@standby2/provdb"
        )

    def parse(self, text: str) -> tuple[str, ...]:
        urls = tuple(u.strip() for u in text.split(",") if u.strip())
        for url in urls:
            if not url.startswith(("postgresql://", "postgresql+psycopg://")):
                raise ValueError(f"{url.split('@')[-1]!r} is not a PostgreSQL URL")
        return urls

    def show(self, value: Any) -> str:
        return ", ".join(_hide_password(str(v)) for v in value)

    def mask(self, text: str) -> str:
        return _hide_password(text)


@dataclass(frozen=True)
class Email(Kind):
    """An e-mail address (one ``@``, no spaces)."""

    label: ClassVar[str] = "e-mail"

    @property
    def allowed(self) -> str:
        return "an e-mail address like ops@example.org"

    def parse(self, text: str) -> str:
        if text.count("@") != 1 or " " in text or text.startswith("@") or text.endswith("@"):
            raise ValueError("")
        return text


@dataclass(frozen=True)
class IvoaId(Kind):
    """An IVOA identifier ``ivo://authority/path`` (a trailing ``?`` is dropped)."""

    label: ClassVar[str] = "IVOA id"

    @property
    def allowed(self) -> str:
        return "an IVOA identifier like ivo://example.org/lst, without '?' or '#'"

    def parse(self, text: str) -> str:
        value = text.rstrip("?")
        if not value.startswith("ivo://") or len(value) <= 6 or "?" in value or "#" in value:
            raise ValueError("")
        return value


@dataclass(frozen=True)
class Pattern(Kind):
    """A ``str.format`` pattern that may use only the given fields."""

    label: ClassVar[str] = "pattern"
    fields: tuple[str, ...] = ()

    @property
    def allowed(self) -> str:
        names = ", ".join("{" + f + "}" for f in self.fields)
        return f"a URL pattern using {names}, like https://data.example.org{{{self.fields[0]}}}"

    def parse(self, text: str) -> str:
        try:
            text.format(**dict.fromkeys(self.fields, ""))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"not a valid pattern: {exc}") from None
        return text
