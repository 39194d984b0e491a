# jeton: CI runs `make deps test test-examples` (see .ci/run).

GO ?= go

.PHONY: test vet fmt fmtcheck build run bench bench-full deps test-examples

test: vet fmtcheck
	$(GO) test -count=1 -p 2 ./...

vet:
	$(GO) vet ./...

fmtcheck:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }

fmt:
	gofmt -w .

# deps installs what test-examples needs, as root on Debian: Debian's FastAPI, uvicorn, httpx
# and Chromium, and the FastAPI example's npm packages from its lockfile. APT_UPDATE=no
# skips `apt-get update` when the caller has just run it.
APT_UPDATE ?= yes
deps:
	if [ "$(APT_UPDATE)" != no ]; then apt-get update; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
		python3-fastapi python3-uvicorn python3-httpx chromium
	cd examples/fastapi && npm ci --ignore-scripts --no-audit --no-fund

# test-examples runs the FastAPI example against a real jeton in headless Chromium (after
# `make deps`; it needs PostgreSQL as `make test` does). `make test` stays Go-only.
test-examples:
	cd examples/fastapi && node test.mjs

build:
	$(GO) build -o bin/jeton ./cmd/jeton

run:
	$(GO) run ./cmd/jeton dev

# bench regenerates docs/BENCHMARKS.md and docs/benchmarks.png in one run (about 10 minutes
# on 2 cores): its own PostgreSQL cluster, 1M live tokens, every scenario and its ceiling.
# BENCHFLAGS passes more flags, e.g. BENCHFLAGS="--pg-url postgres://..." or "--only sweep".
bench:
	$(GO) build -o bin/jeton-bench ./cmd/jeton-bench
	JETON_BENCH_COMMAND="make bench$(if $(BENCHFLAGS), BENCHFLAGS='$(BENCHFLAGS)')" ./bin/jeton-bench $(BENCHFLAGS)

# bench-full adds 10M tokens over 10,000 tenants and a 5M-token sweep.
bench-full:
	$(GO) build -o bin/jeton-bench ./cmd/jeton-bench
	JETON_BENCH_COMMAND="make bench-full$(if $(BENCHFLAGS), BENCHFLAGS='$(BENCHFLAGS)')" ./bin/jeton-bench --full $(BENCHFLAGS)
