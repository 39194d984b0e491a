# jeton: CI runs `make deps test test-examples` (see .ci/run).

GO ?= go

.PHONY: test vet fmt fmtcheck build static run bench bench-full deps test-examples chaos

# rs/ is a module of its own (the resource-server package): ./... stops at it, so test and
# vet visit it explicitly; gofmt walks every directory.
test: vet fmtcheck
	$(GO) test -count=1 -p 2 ./...
	cd rs && $(GO) test -count=1 ./...

vet:
	$(GO) vet ./...
	cd rs && $(GO) vet ./...

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

# VERSION is the release the binary reports and compares with the oldest release the schema
# supports (docs/OPERATIONS.md, Upgrades): `make build VERSION=1.4.0`. "dev" counts as newest.
VERSION ?= dev
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/jeton ./cmd/jeton

# static builds the binary the Dockerfile ships, with the only copy of its flags: no cgo (a
# static binary for a distroless image), no local paths, no symbol tables. CI builds it the
# same way and runs it as a non-root user (.ci/build-static.sh).
STATIC_OUT ?= bin/jeton-static
STATIC_FLAGS = -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
static:
	CGO_ENABLED=0 $(GO) build $(STATIC_FLAGS) -o $(STATIC_OUT) ./cmd/jeton

run:
	$(GO) run ./cmd/jeton dev

# bench regenerates docs/BENCHMARKS.md and docs/benchmarks.png in one run (about 10 minutes
# on 2 cores): its own PostgreSQL cluster, 1M live tokens, every scenario and its ceiling.
# BENCHFLAGS passes more flags, e.g. BENCHFLAGS="--pg-url postgres://..." or "--only sweep".
bench:
	$(GO) build -o bin/jeton-bench ./cmd/jeton-bench
	JETON_BENCH_COMMAND="make bench$(if $(BENCHFLAGS), BENCHFLAGS='$(BENCHFLAGS)')" ./bin/jeton-bench $(BENCHFLAGS)

# bench-full adds 10M tokens over 10,000 tenants and a 5M-token sweep, and writes its own
# report, docs/BENCHMARKS-full.md with docs/benchmarks-full.png.
bench-full:
	$(GO) build -o bin/jeton-bench ./cmd/jeton-bench
	JETON_BENCH_COMMAND="make bench-full$(if $(BENCHFLAGS), BENCHFLAGS='$(BENCHFLAGS)')" ./bin/jeton-bench --full \
		--out docs/BENCHMARKS-full.md --chart docs/benchmarks-full.png $(BENCHFLAGS)

# chaos runs the full chaos suite (about 8 minutes on 2 cores): its own PostgreSQL primary
# and synchronous standby, three jeton instances, every fault at length. Results go to
# bin/chaos-results.md; docs/OPERATIONS.md quotes them. `make test` runs the short form
# (under 3 minutes). It needs PostgreSQL's server binaries, not a running server.
chaos:
	@mkdir -p bin
	$(GO) test -count=1 -v -timeout 30m ./chaos -chaos.full -chaos.results $(CURDIR)/bin/chaos-results.md
