#!/bin/bash
# Runs once, when the postgres container initialises an empty data folder
# (/docker-entrypoint-initdb.d): the service's own login role, not a superuser.
# It owns the provdb database (migrations create its tables) and may create roles
# (the read-only provdb_tap_reader that TAP queries run as), nothing more.
set -euo pipefail
: "${PROVDB_DB_PASSWORD:?set PROVDB_DB_PASSWORD in docker/.env (see docker/env.example)}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v pw="$PROVDB_DB_PASSWORD" <<'SQL'
CREATE ROLE provdb LOGIN NOSUPERUSER NOCREATEDB CREATEROLE PASSWORD :'pw';
CREATE DATABASE provdb OWNER provdb;
SQL
