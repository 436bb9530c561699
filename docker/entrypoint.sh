#!/bin/sh
# Wait for the database named by PROVDB_DATABASE_URL, bring the schema to the newest
# migration, then run the given command (default: provdb serve on port 8080).
# `provdb db status` exits 0 (up to date), 1 (needs upgrade) or 2 (error, e.g. unreachable).
set -u
tries=30
while :; do
  provdb db status >/dev/null 2>&1
  rc=$?
  [ "$rc" -ne 2 ] && break
  tries=$((tries - 1))
  if [ "$tries" -le 0 ]; then
    echo "provdb-entrypoint: database not reachable after 60 s:" >&2
    provdb db status >&2
    exit 2
  fi
  sleep 2
done
provdb db upgrade || exit $?
exec "$@"
