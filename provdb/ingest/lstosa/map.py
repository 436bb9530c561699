"""lstosa prov.log records -> archive rows (pure: no database).

The parser (:mod:`provdb.ingest.lstosa`) yields one record per line; this module
links them into activities, sessions and relations the way the spec requires:

* records of one traced call are joined through ``activity_id`` **inside their
  session_tag**, never by position (bursts of parallel processes interleave);
* lstosa's ``activity_id`` has 6 hex characters and collides across nights and
  reprocessings, so provdb's activity id is ``<activity_id>@<startTime text>``; the
  short id stays in ``activity.original_id``;
* the session record (repeated for every traced call, ~20 kB each) becomes one
  ``environment`` row per distinct environment and one ``session`` row per distinct
  context; the activity whose start has the same session_tag and startTime links to it;
* the mapper's state (open activities, pending session links) is a small JSON-able
  dict, saved after each ingest so a growing prov.log is read on where it stopped.
"""

from __future__ import annotations

import os
import shlex
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from provdb.ingest.identifiers import digest, environment_id, split_system
from provdb.ingest.records import (
    ActivityRow,
    AgentRow,
    ArchiveRow,
    AssociationRow,
    ConfigFileRow,
    DerivationRow,
    EntityRow,
    EnvironmentRow,
    GenerationRow,
    LstosaActivityEnd,
    LstosaActivityStart,
    LstosaDerived,
    LstosaEntity,
    LstosaGenerated,
    LstosaMember,
    LstosaParameters,
    LstosaSession,
    LstosaUnknown,
    LstosaUsed,
    MemberRow,
    ParameterRow,
    SessionRow,
    UsedRow,
)

__all__ = ["STEP_GROUPS", "LstosaMapper", "parse_local_time"]

#: lstosa's provprocess granularities: step group -> traced activity names.
STEP_GROUPS: dict[str, tuple[str, ...]] = {
    "calibration": ("drs4_pedestal", "calibrate_charge"),
    "r0_to_dl1": ("r0_to_dl1", "dl1ab", "dl1_datacheck"),
    "dl1_to_dl2": ("dl1_to_dl2",),
}

# How many (session_tag, startTime) -> session links to remember for activity starts
# that have not arrived yet; a session record is followed by its start within a few
# lines, so this only bounds memory on damaged files.
_MAX_PENDING = 10_000


def parse_local_time(text: str | None, tz: ZoneInfo | None) -> datetime | None:
    """Parse lstosa's naive ISO time, interpret it in ``tz``, return naive UTC.

    ``None`` or an unparsable text gives ``None`` (the original text is kept apart).
    """
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        if tz is None:
            return value
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC).replace(tzinfo=None)


def _night(observation_date: str | None) -> date | None:
    if not observation_date:
        return None
    try:
        return datetime.strptime(str(observation_date), "%Y%m%d").date()
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class LstosaMapper:
    """Turns a stream of lstosa records into archive rows.

    Parameters
    ----------
    path:
        The source file (used to scope activities whose start record is missing).
    timezone:
        IANA zone the naive lstosa times are in (``UTC`` by default).
    model:
        An lstosa definition model (:class:`provdb.ingest.lstosa.definition.Model`)
        whose description ids are attached to activities, entities and relations.
    state:
        A state dict from :meth:`state` of an earlier ingest of the same file.
    """

    def __init__(
        self,
        *,
        path: str,
        timezone: str = "UTC",
        model: Any | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.tz = ZoneInfo(timezone)
        self.model = model
        self._path_digest = digest(os.path.abspath(path), length=8)
        state = state or {}
        # (session_tag, short id) -> [full id, activity name]
        self._open: dict[str, list[str | None]] = dict(state.get("open", {}))
        # (session_tag, startTime text) -> [session row id, command line]
        self._pending: dict[str, list[str | None]] = dict(state.get("pending", {}))
        self._seen_env: set[str] = set()
        self._env_cache: dict[tuple, tuple[tuple, str]] = {}
        self._seen_sessions: set[str] = set()
        self._seen_agents: set[str] = set()

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        """JSON-able state to resume a growing file with (open activities, pending links)."""
        return {"open": self._open, "pending": self._pending}

    @staticmethod
    def _key(tag: str | None, short: str) -> str:
        return f"{tag or ''}\x1f{short}"

    # ------------------------------------------------------------------ records

    def feed(self, rec: Any) -> list[ArchiveRow]:
        """Map one parser record to zero or more archive rows."""
        kind = type(rec)
        if kind is LstosaUsed:
            act = self._resolve(rec.session_tag, rec.activity_id)
            return [
                UsedRow(
                    activity_id=act[0],
                    entity_id=rec.entity_id,
                    role=rec.role,
                    usage_description_id=self._usage_desc(act[1], rec.role),
                )
            ]
        if kind is LstosaEntity:
            return [self._entity(rec)]
        if kind is LstosaGenerated:
            act = self._resolve(rec.session_tag, rec.activity_id)
            return [
                GenerationRow(
                    entity_id=rec.entity_id,
                    activity_id=act[0],
                    role=rec.role,
                    generation_description_id=self._generation_desc(act[1], rec.role),
                )
            ]
        if kind is LstosaActivityStart:
            return self._start(rec)
        if kind is LstosaActivityEnd:
            act = self._resolve(rec.session_tag, rec.activity_id)
            self._open.pop(self._key(rec.session_tag, rec.activity_id), None)
            return [
                ActivityRow(
                    id=act[0],
                    end_time=parse_local_time(rec.end_time, self.tz),
                    end_time_text=rec.end_time,
                )
            ]
        if kind is LstosaSession:
            return self._session(rec)
        if kind is LstosaParameters:
            act = self._resolve(rec.session_tag, rec.activity_id)
            return [
                ParameterRow(
                    activity_id=act[0],
                    name=str(name),
                    parameter_value=str(value),
                    parameter_description_id=self._parameter_desc(act[1], str(name)),
                )
                for name, value in rec.parameters.items()
            ]
        if kind is LstosaDerived:
            return [
                DerivationRow(generated_entity_id=rec.entity_id, used_entity_id=rec.progenitor_id)
            ]
        if kind is LstosaMember:
            return [MemberRow(collection_id=rec.entity_id, entity_id=rec.member_id)]
        if kind is LstosaUnknown:
            return []  # kept by the pipeline in the rejects table (is_error = false)
        raise TypeError(f"not an lstosa record: {rec!r}")

    # ------------------------------------------------------------------ helpers

    def _resolve(self, tag: str | None, short: str) -> list[str | None]:
        """The activity a record refers to: the latest open start with this tag and id."""
        found = self._open.get(self._key(tag, short))
        if found is not None:
            return found
        # No start record (lost line, activity split across files): scope the id by tag
        # and file so it can never merge with another activity.
        full = f"{short}@nostart:{tag or ''}:{self._path_digest}"
        entry: list[str | None] = [full, tag.split(":", 1)[0] if tag and ":" in tag else None]
        self._open[self._key(tag, short)] = entry
        return entry

    def _start(self, rec: LstosaActivityStart) -> list[ArchiveRow]:
        full = f"{rec.activity_id}@{rec.start_time}"
        self._open[self._key(rec.session_tag, rec.activity_id)] = [full, rec.name]
        link = self._pending.pop(f"{rec.session_tag or ''}\x1f{rec.start_time}", None)
        session_id, command_line = (link[0], link[1]) if link else (None, None)
        rows: list[ArchiveRow] = [
            ActivityRow(
                id=full,
                name=rec.name,
                start_time=parse_local_time(rec.start_time, self.tz),
                start_time_text=rec.start_time,
                original_id=rec.activity_id,
                session_id=session_id,
                session_tag=rec.session_tag,
                script=rec.script,
                command_line=command_line,
                activity_description_id=self._activity_desc(rec.name),
                attributes=(
                    {"in_session": rec.in_session, **rec.extra}
                    if rec.in_session or rec.extra
                    else None
                ),
            )
        ]
        if link and link[2]:
            rows.append(
                ConfigFileRow(
                    activity_id=full,
                    name=os.path.basename(str(link[2])),
                    location=link[2],
                    content_hash=link[3],
                    content_hash_type=link[4],
                )
            )
        if rec.agent_name:
            if rec.agent_name not in self._seen_agents:
                self._seen_agents.add(rec.agent_name)
                rows.append(AgentRow(id=rec.agent_name, name=rec.agent_name))
            rows.append(AssociationRow(activity_id=full, agent_id=rec.agent_name))
        return rows

    def _environment(self, system: dict[str, Any]) -> tuple[str | None, str | None, list]:
        """(environment id, command line, rows) for a session's system dict."""
        env, per_call = split_system(system)
        args = per_call.get("arguments")
        command_line = (
            " ".join(shlex.quote(str(a)) for a in args) if isinstance(args, list) else None
        )
        # The parser hands back the very same sub-dicts for repeated environments (it
        # caches them by their bytes); hashing ~20 kB of JSON per traced call is the
        # costly part, so remember digests by object identity (verified with `is`).
        key = tuple((k, id(v)) for k, v in env.items())
        cached = self._env_cache.get(key)
        if cached is not None and all(a is b for a, b in zip(cached[0], env.values(), strict=True)):
            env_id = cached[1]
        else:
            env_id = environment_id(env)
            if len(self._env_cache) > 1000:
                self._env_cache.clear()
            self._env_cache[key] = (tuple(env.values()), env_id)
        rows: list = []
        if env_id not in self._seen_env:
            self._seen_env.add(env_id)
            rows.append(EnvironmentRow(id=env_id, system=env))
        return env_id, command_line, rows

    def _session(self, rec: LstosaSession) -> list[ArchiveRow]:
        rows: list[ArchiveRow] = []
        env_id = command_line = None
        if isinstance(rec.system, dict):
            env_id, command_line, rows = self._environment(rec.system)
        parts = (
            rec.session_id,
            rec.observation_date,
            rec.observation_run,
            rec.pedestal_run,
            rec.calibration_run,
            rec.software_version,
            rec.config_file,
            rec.config_file_hash,
            env_id,
        )
        sid = f"{rec.session_id}-{digest(*(p or '' for p in parts), length=10)}"
        if sid not in self._seen_sessions:
            self._seen_sessions.add(sid)
            rows.append(
                SessionRow(
                    id=sid,
                    original_id=rec.session_id,
                    name=rec.name,
                    observation_date=_text(rec.observation_date),
                    observation_run=_text(rec.observation_run),
                    pedestal_run=_text(rec.pedestal_run),
                    calibration_run=_text(rec.calibration_run),
                    software_version=rec.software_version,
                    config_file=rec.config_file,
                    config_file_hash=rec.config_file_hash,
                    config_file_hash_type=rec.config_file_hash_type,
                    environment_id=env_id,
                )
            )
        if len(self._pending) >= _MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))
        self._pending[f"{rec.session_tag or ''}\x1f{rec.start_time}"] = [
            sid,
            command_line,
            rec.config_file,
            rec.config_file_hash,
            rec.config_file_hash_type,
        ]
        return rows

    def _entity(self, rec: LstosaEntity) -> EntityRow:
        return EntityRow(
            id=rec.entity_id,
            name=rec.name,
            location=rec.filepath or rec.location,
            entity_type=rec.type,
            content_type=rec.content_type,
            entity_description_id=(
                self.model.entity_description_id(rec.name) if self.model and rec.name else None
            ),
            attributes=dict(rec.extra) if rec.extra else None,
        )

    def _activity_desc(self, name: str | None) -> str | None:
        return self.model.activity_description_id(name) if self.model and name else None

    def _usage_desc(self, activity: str | None, role: str | None) -> str | None:
        if not (self.model and activity and role):
            return None
        return self.model.usage_description_id(activity, role)

    def _generation_desc(self, activity: str | None, role: str | None) -> str | None:
        if not (self.model and activity and role):
            return None
        return self.model.generation_description_id(activity, role)

    def _parameter_desc(self, activity: str | None, name: str) -> str | None:
        if not (self.model and activity):
            return None
        lookup = getattr(self.model, "parameter_description_id", None)
        return lookup(activity, name) if lookup else None


# session night helper re-exported for the loader
night_of = _night
