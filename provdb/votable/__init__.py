"""VOTable primitives shared by the archive and the TAP service.

The column metadata (:class:`Field`), the value rules every format follows
(:mod:`provdb.votable.values`) and TABLEDATA rows (:mod:`provdb.votable.tabledata`).
They sit below both ``provdb`` (PROV-VOTABLE lineage documents) and ``tap`` (the
streaming result writers in ``tap.votable``), so that ``provdb`` never imports ``tap``.
Pure code: no web framework, no database.
"""

from .fields import Field
from .tabledata import TabledataRows
from .values import format_timestamp, xml_attr, xml_text

__all__ = ["Field", "TabledataRows", "format_timestamp", "xml_attr", "xml_text"]
