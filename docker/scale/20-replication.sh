#!/bin/bash
# Lets the standby of compose.scale.yaml stream from this primary: replication
# connections with the superuser's password from the compose network.
set -euo pipefail
echo "host replication ${POSTGRES_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
