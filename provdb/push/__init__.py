"""Push from pipelines: ingest tokens, the spool of pushed logs, and the ``provdb push`` client.

The HTTP endpoint itself is the blueprint ``tap/ingest_api.py``; everything here is
free of Flask so that the CLI and the tests use it directly.
"""
