#!/usr/bin/env bash
# CI system parts for the API tests: Debian chromium (+ its driver) for the browser test and a PostgreSQL
# server on loopback for the decision log. Installs only what is missing; starts PostgreSQL; creates a user
# and a database; writes their URL to .ci/postgres-url (read by .ci/run). Exports nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci-system: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The newest installed PostgreSQL and its cluster (Debian's postgresql package creates "main").
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main"; then
  pg_createcluster "$version" main >/dev/null
fi
# Debian's default listen_addresses is localhost: loopback only.
pg_ctlcluster "$version" main start 2>/dev/null || true
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.2
done
pg_isready -h 127.0.0.1 -p "$port"

user=carerules
password=carerules-ci
database=carerules_test
as_postgres() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != "1" ]; then
  as_postgres -c "CREATE ROLE $user LOGIN PASSWORD '$password'"
fi
if [ "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" != "1" ]; then
  as_postgres -c "CREATE DATABASE $database OWNER $user"
fi
echo "postgresql+psycopg://$user:$password@127.0.0.1:$port/$database" > .ci/postgres-url
echo "ci-system: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), PostgreSQL $version on 127.0.0.1:$port"
