"""Streaming writers for query results: VOTable (TABLEDATA, BINARY2), CSV, TSV, JSON."""
