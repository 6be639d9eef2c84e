#!/usr/bin/env bash
# Build the container image and smoke-test it (/healthz, one decision) — only where a Docker daemon runs.
# Where `docker info` fails (no daemon, as on the project's build machines), say so and skip: nothing is faked.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "docker-smoke: skipped: no Docker daemon here (docker info failed); the image was not built or tested"
  exit 0
fi
tag=carerules:smoke
docker build -t "$tag" .
# The first administrator comes from a secret file on a fresh volume (api/auth/bootstrap.py): a token made by the image.
secrets=$(mktemp -d) && chmod 0755 "$secrets"
docker run --rm "$tag" carerules users new-token >"$secrets/carerules_admin_token"
chmod 0644 "$secrets/carerules_admin_token"  # readable by the image's non-root user through the bind mount
token=$(cat "$secrets/carerules_admin_token")
id=$(docker run -d -p 127.0.0.1::8000 -v "$secrets:/run/secrets:ro" -e CARERULES_ADMIN_ROLES=admin,broker "$tag")
trap 'docker rm -f "$id" >/dev/null; rm -rf "$secrets"' EXIT
port=$(docker port "$id" 8000/tcp | head -1 | sed 's/.*://')
base="http://127.0.0.1:$port"
for _ in $(seq 1 60); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS "$base/healthz"
echo
status=$(curl -s -o /tmp/carerules-smoke.json -w '%{http_code}' -X POST "$base/v1/decisions" \
  -H 'Content-Type: application/json' -H "Authorization: Bearer $token" --data-binary @examples/spec_example.json)
cat /tmp/carerules-smoke.json
echo
[ "$status" = 201 ] || { echo "docker-smoke: POST /v1/decisions answered $status"; docker logs "$id"; exit 1; }
anonymous=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/v1/decisions" -H 'Content-Type: application/json' \
  --data-binary @examples/spec_example.json)
[ "$anonymous" = 401 ] || { echo "docker-smoke: an anonymous decision answered $anonymous, not 401"; exit 1; }
[ "$(docker inspect -f '{{.Config.User}}' "$tag")" = carerules ] || { echo "docker-smoke: not non-root"; exit 1; }
echo "docker-smoke: ok ($tag started on a fresh volume with its admin from a secret, answered /healthz, one decision with a token, 401 without)"
