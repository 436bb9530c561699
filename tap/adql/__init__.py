"""ADQL 2.1 -> PostgreSQL translation (sqlglot-based, strict allow-lists).

>>> from tap.catalog import catalog_from_metadata
>>> from tap.adql import translate
>>> t = translate("SELECT TOP 5 name FROM provenance.entity", catalog_from_metadata(), maxrec=100)
>>> t.sql
'SELECT CAST("entity"."name" AS TEXT) AS "name" FROM "provenance"."entity" AS "entity" LIMIT 5'

See :func:`translate` for the row-limit contract, :data:`LANGUAGE_FEATURES` for what to
declare in TAPRegExt, and :func:`upload_table_name` for the temporary tables of uploads.
"""

from tap.adql.errors import ADQLError
from tap.adql.features import CONDITIONAL_FEATURES, LANGUAGE_FEATURES
from tap.adql.schema import upload_table_name
from tap.adql.translate import Translation, translate

__all__ = [
    "CONDITIONAL_FEATURES",
    "LANGUAGE_FEATURES",
    "ADQLError",
    "Translation",
    "translate",
    "upload_table_name",
]
