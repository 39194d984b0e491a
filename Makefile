# jeton: CI runs `make deps test test-pgbouncer test-examples test-console chaos-ha` (see .ci/run).

GO ?= go

.PHONY: test test-exec-modes test-pgbouncer vet fmt fmtcheck build static run bench bench-full bench-build deps test-examples test-console console chaos chaos-ha

# rs/ (the resource-server package) and cmd/jeton-bench/ (the bench, whose chart library
# stays out of the server's go.mod) are modules of their own: ./... stops at each, so test
# and vet visit them explicitly; gofmt walks every directory. The chaos suite runs last and
# alone: it holds answers during outages to latency bounds, which the other suites' load on
# a 2-core machine pushed past (a 5.8 s login during a restart, in CI).
test: vet fmtcheck
	$(GO) test -count=1 -p 2 $$($(GO) list ./... | grep -v '/chaos$$')
	$(MAKE) --no-print-directory test-exec-modes
	$(GO) test -count=1 ./chaos
	cd rs && $(GO) test -count=1 ./...
	cd cmd/jeton-bench && $(GO) test -count=1 ./...

# test-pgbouncer runs the api and service suites once more with every database connection
# through a pgbouncer in transaction mode that dbtest starts itself (JETON_TEST_PGBOUNCER=1,
# pgcluster.StartPgbouncer; docs/OPERATIONS.md, Behind pgbouncer), LISTEN connections
# direct as --listen-database-url has them. It needs pgbouncer (make deps) and PostgreSQL
# as `make test` does; without pgbouncer it fails saying what to install.
test-pgbouncer:
	JETON_TEST_PGBOUNCER=1 $(GO) test -count=1 -p 1 ./api ./service

# test-exec-modes runs the db suite, which runs every statement jeton has, again in the two
# pgx query exec modes that prepare nothing (what a pooler in transaction mode needs,
# docs/OPERATIONS.md, Behind pgbouncer): a parameter that only a described statement gives
# a type fails there. JETON_TEST_EXEC_MODE=exec go test ./api/ ./service/ does the same
# for those suites (minutes each).
test-exec-modes:
	JETON_TEST_EXEC_MODE=exec $(GO) test -count=1 ./db/
	JETON_TEST_EXEC_MODE=simple_protocol $(GO) test -count=1 ./db/

vet:
	$(GO) vet ./...
	cd rs && $(GO) vet ./...
	cd cmd/jeton-bench && $(GO) vet ./...

fmtcheck:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }

fmt:
	gofmt -w .

# deps installs what test-examples, test-console, test-pgbouncer and chaos-ha need, as root
# on Debian: Debian's FastAPI, uvicorn, httpx, Chromium, pgbouncer, Patroni, etcd and
# HAProxy, and the npm packages of the FastAPI example and of the console from their
# lockfiles. APT_UPDATE=no skips `apt-get update` when the caller
# has just run it.
APT_UPDATE ?= yes
deps:
	if [ "$(APT_UPDATE)" != no ]; then apt-get update; fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
		python3-fastapi python3-uvicorn python3-httpx chromium pgbouncer \
		patroni etcd-server haproxy
	cd examples/fastapi && npm ci --ignore-scripts --no-audit --no-fund
	cd console && npm ci --ignore-scripts --no-audit --no-fund

# test-examples runs the FastAPI example against a real jeton in headless Chromium (after
# `make deps`; it needs PostgreSQL as `make test` does). `make test` stays Go-only.
test-examples:
	cd examples/fastapi && node test.mjs

# The admin console (console/): `make console` builds it with npm into console/www/dist,
# which is git-ignored and embedded in the binary by the console package; a checkout that
# never built it embeds the committed placeholder page (console/www/placeholder) instead.
# build, run and static rebuild it when its sources changed, and skip it with a message
# when npm is missing.
CONSOLE_SRC := $(shell find console/src console/public -type f 2>/dev/null) console/index.html \
	console/package.json console/package-lock.json console/vite.config.ts console/tsconfig.json
CONSOLE_OUT := console/www/dist/index.html

$(CONSOLE_OUT): $(CONSOLE_SRC)
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory console || \
		echo "the console did not build (above): jeton will serve what console/www holds"; \
	else \
		echo "npm not found: jeton will serve the console's placeholder page (install Node.js 20.19+ and npm, then make console)"; \
	fi

console: console/node_modules/.package-lock.json
	cd console && npm run build

console/node_modules/.package-lock.json: console/package-lock.json
	cd console && npm ci --ignore-scripts --no-audit --no-fund

# test-console runs the console's component tests (Vitest), then the console against a
# real jeton in headless Chromium (after `make deps`; it needs PostgreSQL as `make test`
# does). Its screenshots go to docs/console.
test-console: console
	cd console && npx vitest run
	cd console && SCREENSHOT_DIR=$(CURDIR)/docs/console node test/browser.mjs

# VERSION is the release the binary reports and compares with the oldest release the schema
# supports (docs/OPERATIONS.md, Upgrades): `make build VERSION=1.4.0`. "dev" counts as newest.
VERSION ?= dev
build: $(CONSOLE_OUT)
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/jeton ./cmd/jeton

# static builds the binary the Dockerfile ships, with the only copy of its flags: no cgo (a
# static binary for a distroless image), no local paths, no symbol tables. CI builds it the
# same way and runs it as a non-root user (.ci/build-static.sh).
STATIC_OUT ?= bin/jeton-static
STATIC_FLAGS = -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
static: $(CONSOLE_OUT)
	CGO_ENABLED=0 $(GO) build $(STATIC_FLAGS) -o $(STATIC_OUT) ./cmd/jeton

# run is jeton dev built with the dev tag, which adds its last resort when no PostgreSQL
# answers: a container (testcontainers-go). The binaries of build and static have none.
run: $(CONSOLE_OUT)
	$(GO) run -tags dev ./cmd/jeton dev

# bench regenerates docs/BENCHMARKS.md and docs/benchmarks.png in one run (about 20 minutes
# on 2 cores): its own PostgreSQL cluster, 1M live tokens, every scenario and its ceiling.
# BENCHFLAGS passes more flags, e.g. BENCHFLAGS="--pg-url postgres://..." or "--only sweep".
# The bench runs from the repository root, where it builds ./cmd/jeton (its --src).
bench: bench-build
	JETON_BENCH_COMMAND="make bench$(if $(BENCHFLAGS), BENCHFLAGS='$(BENCHFLAGS)')" ./bin/jeton-bench $(BENCHFLAGS)

# bench-full adds 10M tokens over 10,000 tenants and a 5M-token sweep, and writes its own
# report, docs/BENCHMARKS-full.md with docs/benchmarks-full.png.
bench-full: bench-build
	JETON_BENCH_COMMAND="make bench-full$(if $(BENCHFLAGS), BENCHFLAGS='$(BENCHFLAGS)')" ./bin/jeton-bench --full \
		--out docs/BENCHMARKS-full.md --chart docs/benchmarks-full.png $(BENCHFLAGS)

# bench-build builds bin/jeton-bench from its own module.
bench-build:
	cd cmd/jeton-bench && $(GO) build -o $(CURDIR)/bin/jeton-bench .

# chaos runs the full chaos suite (about 8 minutes on 2 cores): its own PostgreSQL primary
# and synchronous standby, three jeton instances, every fault at length. Results go to
# bin/chaos-results.md; docs/OPERATIONS.md quotes them. `make test` runs the short form
# (under 3 minutes). It needs PostgreSQL's server binaries, not a running server.
chaos:
	@mkdir -p bin
	$(GO) test -count=1 -v -timeout 30m ./chaos -chaos.full -chaos.results $(CURDIR)/bin/chaos-results.md

# chaos-ha runs the chaos suite's HA form (the chaosha build tag, so make test does not):
# the same instances, load and checks on three PostgreSQL nodes managed by Patroni over one
# etcd, once through a multi-host URL and once through HAProxy on Patroni's /primary, under
# a killed leader, a switchover, an etcd outage and a restarted replica; pgcluster's TestHA
# first. It needs Patroni, etcd and HAProxy (make deps) and fails, saying so, without them.
# Results go to bin/chaos-ha-results-{multi-host,haproxy}.md; docs/OPERATIONS.md quotes them.
chaos-ha:
	@mkdir -p bin
	$(GO) test -count=1 -v -tags chaosha -timeout 10m -run '^TestHA$$' ./pgcluster
	$(GO) test -count=1 -v -tags chaosha -timeout 30m -run '^TestChaosHA$$' ./chaos -chaos.results $(CURDIR)/bin/chaos-ha-results.md
