#!/bin/bash
# Run once, when the first primary initialises its data directory (Kubegres
# mounts it into /docker-entrypoint-initdb.d). Creates the pipeline's database,
# its owner (store-consume, runs the migrations) and a read-only role for the
# API, with passwords from the postgres-secret Secret (spec.env of the Kubegres
# resource).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v db="$CES_DATABASE" \
  -v store_user="$CES_STORE_USER" -v store_password="$CES_STORE_PASSWORD" \
  -v api_user="$CES_API_USER" -v api_password="$CES_API_PASSWORD" <<'SQL'
CREATE ROLE :"store_user" LOGIN PASSWORD :'store_password';
CREATE ROLE :"api_user" LOGIN PASSWORD :'api_password';
CREATE DATABASE :"db" OWNER :"store_user";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"api_user";
\connect :"db"
GRANT USAGE ON SCHEMA public TO :"api_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"store_user" IN SCHEMA public GRANT SELECT ON TABLES TO :"api_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"store_user" IN SCHEMA public GRANT SELECT ON SEQUENCES TO :"api_user";
SQL
echo "database $CES_DATABASE with roles $CES_STORE_USER (owner) and $CES_API_USER (read-only) created"
# pgBackRest: the stanza of the WAL archive (the backup CronJob creates it too,
# so an object store that is not reachable yet does not stop the first start)
pgbackrest --stanza=events stanza-create || echo "pgbackrest stanza-create failed; the backup CronJob retries it" >&2
