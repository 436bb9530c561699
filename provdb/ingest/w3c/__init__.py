"""Reader of W3C PROV documents (PROV-JSON, PROV-XML, PROV-N) into archive rows.

Supported serialisations
------------------------
* **PROV-JSON** (W3C member submission), including lstosa's run-wise ``*_prov.json``
  (spec §3.4) and the IVOA *voprov* variant with extra top-level keys (``parameter``,
  ``configFile``, ``wasConfiguredBy``, ``activityDescription``, ``isDescribedBy``,
  ``usageDescription``, ``isRelatedTo`` ...; spec §6). Named bundles (logprov's
  ``#configuration#<act>``) are flattened into the document.
* **PROV-XML**, in the W3C ``prov`` namespace or in voprov's ``voprov`` namespace
  (``<voprov:document>``, ``voprov:id`` / ``voprov:ref``); ``bundleContent`` is flattened.
* **PROV-N**, with voprov's extra statements. The parser is hand-written (recursive
  descent) and accepts voprov's unquoted positional literals, e.g.
  ``usageDescription(lst:ud1, Observation subrun)``.

The ``prov`` package is not used to read: its readers reject voprov's keys and elements.
All three readers produce one neutral statement list that a single mapper turns into rows,
so a document gives the same rows whichever serialisation it comes in.

Identifiers
-----------
``doc = document_id(data) = "w3c:" + sha1(<decompressed bytes>)[:12]``.

* **Entities** (and the description classes): a name in a namespace whose URI is
  literally ``id:`` (lstosa) gives its *local part* (lstosa's md5-of-path ids, equal to the
  ids the ``prov.log`` ingester makes); a name in a real URI namespace (``scheme:`` followed
  by something: ``http://...``, ``urn:...``, ``ivo://...``) gives the expanded URI; a blank
  node (``_:x``) gives ``f"{doc}:_:x"``; anything else gives ``prefix:local`` as written.
* **Activities**: a real URI namespace gives the expanded URI; any other name is
  document-scoped, ``f"{doc}:{src}"`` with ``original_id = src`` where ``src`` is the local
  part for ``id:`` names (lstosa's random 6-hex ids) and ``prefix:local`` otherwise.
* **Agents**: a real URI namespace gives the expanded URI; otherwise the local part
  (``id:Anonymous`` -> ``Anonymous``): agent ids are names.
* **Sessions** (lstosa's ``prov:type "ExecutionSession"`` entity): ``f"{doc}:session:{src}"``.

Relations reference the same transformed ids. A relation naming an element that the
document does not declare gets a bare ``EntityRow`` / ``ActivityRow`` / ``AgentRow`` so the
loader's foreign keys hold.

Row order
---------
Parents come before children: descriptions, sessions, agents, entities, activities, then
relations, parameters and configuration files. Relation rows are de-duplicated.

Warnings
--------
Statements with no archive table (``wasStartedBy``, ``actedOnBehalfOf``, ...), unknown
statement kinds, relations missing a mandatory end, unparseable times and the like are not
errors: they are reported as text in the ``warnings`` list passed by the caller. Malformed
input raises :class:`~provdb.errors.ParseError` naming the line.

Modules
-------
:mod:`~provdb.ingest.w3c.statements` the neutral statement model;
:mod:`~provdb.ingest.w3c.prov_json`, :mod:`~provdb.ingest.w3c.prov_xml`,
:mod:`~provdb.ingest.w3c.prov_n` the three readers;
:mod:`~provdb.ingest.w3c.attributes` and :mod:`~provdb.ingest.w3c.mapper` statements to
rows; :mod:`~provdb.ingest.w3c.detect` format recognition;
:mod:`~provdb.ingest.w3c.parse` the entry points. All pure: no database, no printing.
"""

from provdb.ingest.w3c.detect import FORMATS, detect
from provdb.ingest.w3c.parse import document_id, parse_bytes, parse_file
from provdb.ingest.w3c.statements import PROV_NS, VOPROV_NS

__all__ = [
    "FORMATS",
    "PROV_NS",
    "VOPROV_NS",
    "detect",
    "document_id",
    "parse_bytes",
    "parse_file",
]
