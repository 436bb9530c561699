"""Streaming parser of lstosa / logprov ``prov.log`` files (spec §1, §6.1, §10).

Three line formats are understood:

* **lstosa** ``prov.log``: ``<LEVEL> provLogger __PROV__<record_time>__PROV__<payload>``
  (spec §1.2), interleaved with diagnostics such as ``WARNING provLogger ...`` (§1.3);
* **logprov** logs: ``<LEVEL> _PROV_<record_time>_PROV_<payload>`` (no logger name, DEBUG
  lines, id-as-key entity records, integer ids above 2**64; spec §6.1, §10.31);
* **run-wise** lstosa ``*_prov.log`` products: one bare ``{...}`` dict per line, no prefix
  and no time stamp, values that went through YAML so the string ``'None'`` means null
  (spec §3.3, §10.20).

``<payload>`` is the Python ``repr`` of a dict. Each line becomes one typed record of
:mod:`provdb.ingest.records` (kind inferred from the keys in the order of spec §1.4), a
:class:`~provdb.ingest.records.NonProvenanceLine`, or a
:class:`~provdb.ingest.records.RejectedLine`; nothing is silently dropped except blank lines.

Incremental ingest
------------------
:func:`parse_lines` and :func:`parse_file` return a :class:`LstosaLogReader`, an iterator
whose attributes say how far it safely got::

    reader = parse_file("prov.log", start_offset=state.offset, start_line=state.line)
    for item in reader:
        ...
    state.offset, state.line = reader.offset_reached, reader.next_line

A last line without its trailing newline is a line still being written: it is neither
yielded nor rejected, ``reader.torn_tail`` holds its bytes and ``reader.offset_reached``
stays at the start of it, so the next run re-reads it once it is complete.

Speed
-----
Small records are decoded with the C JSON scanner after a byte translation that makes every
payload JSON cannot represent identically fail (any ``"`` or ``\\`` in the payload, Python-only
literals such as ``None``/``True``/tuples); those fall back to :func:`ast.literal_eval`. The
~20 kB session records are cut at the top-level keys of their ``system`` dict: the pieces
that repeat (``executable`` + ``platform`` per node, ``python`` with its package list and
``environment`` per software environment) are parsed once per distinct byte string and
cached; only the small varying rest (``arguments``, ``start_time_utc`` and the other session
keys) is parsed per line. Consequently the nested values of ``LstosaSession.system`` (e.g.
``system["python"]``) may be **the same objects in several records**: treat them as
read-only. Each record still gets its own top-level ``system`` dict.

Modules
-------
:mod:`~provdb.ingest.lstosa.formats` the line formats and their detection;
:mod:`~provdb.ingest.lstosa.payload` payload text to dict;
:mod:`~provdb.ingest.lstosa.record` dict to typed record;
:mod:`~provdb.ingest.lstosa.line_loop` the loop over lines;
:mod:`~provdb.ingest.lstosa.reader` the reader and the entry points;
:mod:`~provdb.ingest.lstosa.map` records to archive rows (``LstosaMapper``);
:mod:`~provdb.ingest.lstosa.definition` lstosa's ``definition.yaml`` model.
"""

from provdb.ingest.lstosa.formats import BARE_DICT, LOGPROV_PREFIX, LSTOSA_PREFIX, detect
from provdb.ingest.lstosa.payload import parse_payload
from provdb.ingest.lstosa.reader import LstosaLogReader, parse_file, parse_lines
from provdb.ingest.lstosa.record import LstosaLogItem

__all__ = [
    "BARE_DICT",
    "LOGPROV_PREFIX",
    "LSTOSA_PREFIX",
    "LstosaLogItem",
    "LstosaLogReader",
    "detect",
    "parse_file",
    "parse_lines",
    "parse_payload",
]
