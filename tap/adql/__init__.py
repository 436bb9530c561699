"""ADQL 2.1 -> PostgreSQL translation (sqlglot-based, strict allow-lists)."""
