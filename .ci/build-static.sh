#!/usr/bin/env bash
# What CI can check of the Docker image without Docker: build jeton exactly as the
# Dockerfile does (`make static`: CGO_ENABLED=0, -trimpath, -ldflags "-s -w"), check the
# binary is static, and run it as a non-root user (nobody, as the image's nonroot user is):
# --help, `migrate up` and `migrate status` on a fresh database, then `serve` until it is
# ready and its ops listener answers /metrics.
# Needs the PostgreSQL server of .ci/run on 127.0.0.1:5432 (user postgres, trusted).
set -euo pipefail

cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }
fail() { printf 'build-static: %s\n' "$*" >&2; exit 1; }

dir="$(mktemp -d)"
db="jeton_static_$$"
serve_pid=""
cleanup() {
	if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
	psql -h 127.0.0.1 -U postgres -d postgres -Atqc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
chmod 755 "$dir"
bin="$dir/jeton"

log "make static STATIC_OUT=$bin (the Dockerfile's build)"
make static STATIC_OUT="$bin"

log "checking that $bin is static"
# ldd says "not a dynamic executable" (or "statically linked") for a static binary, and
# lists libraries and the loader for a dynamic one.
deps="$(ldd "$bin" 2>&1 || true)"
if grep -qE '=>|ld-linux' <<<"$deps"; then
	printf '%s\n' "$deps" >&2
	fail "ldd lists shared libraries: the binary is dynamic"
fi
if command -v file >/dev/null; then
	desc="$(file -b "$bin")"
	case "$desc" in
	*"statically linked"*) ;;
	*) fail "file says: $desc" ;;
	esac
fi

# As root (CI), run as nobody; otherwise the current user is already not root.
as_user=()
if [ "$(id -u)" -eq 0 ]; then
	as_user=(runuser -u nobody --)
fi
log "running as $(if [ ${#as_user[@]} -gt 0 ]; then echo nobody; else id -un; fi)"

# Captured first: grep -q closing the pipe early would fail the pipeline under pipefail.
help="$("${as_user[@]}" "$bin" --help)" || fail "jeton --help exited non-zero"
grep -qE '^Usage: jeton ' <<<"$help" && grep -qE '^ +serve ' <<<"$help" || fail "jeton --help printed no usage"

psql -h 127.0.0.1 -U postgres -d postgres -Atqc "CREATE DATABASE $db" >/dev/null
url="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
"${as_user[@]}" env JETON_DATABASE_URL="$url" "$bin" migrate up
status="$("${as_user[@]}" env JETON_DATABASE_URL="$url" "$bin" migrate status)"
printf '%s\n' "$status"
if ! grep -q "applied" <<<"$status" || grep -q "pending" <<<"$status"; then
	fail "migrate status does not show every migration applied"
fi

log "jeton serve as a non-root user"
"${as_user[@]}" env JETON_DATABASE_URL="$url" JETON_ISSUER=http://127.0.0.1:8080 JETON_ADDR=127.0.0.1:0 \
	JETON_OPS_ADDR=127.0.0.1:0 JETON_SWEEP_INTERVAL=0 "$bin" serve 2>"$dir/serve.log" &
serve_pid=$!
addr="" ops=""
for _ in $(seq 1 150); do
	addr="$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$dir/serve.log" | head -1)"
	ops="$(sed -n 's/.*"msg":"ops listening","addr":"\([^"]*\)".*/\1/p' "$dir/serve.log" | head -1)"
	if [ -n "$addr" ] && [ -n "$ops" ]; then break; fi
	kill -0 "$serve_pid" 2>/dev/null || { cat "$dir/serve.log" >&2; fail "serve exited"; }
	sleep 0.2
done
[ -n "$addr" ] && [ -n "$ops" ] || { cat "$dir/serve.log" >&2; fail "serve never listened"; }
"${as_user[@]}" "$bin" healthcheck --url "http://$addr/readyz"
"${as_user[@]}" "$bin" healthcheck --url "http://$ops/metrics"
log "static binary OK: built as the Dockerfile builds it, ran as a non-root user"
