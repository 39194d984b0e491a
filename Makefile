# jeton: `make test` is what CI runs (see .ci/run).

GO ?= go

.PHONY: test vet fmt fmtcheck build run bench bench-full

test: vet fmtcheck
	$(GO) test -count=1 -p 2 ./...

vet:
	$(GO) vet ./...

fmtcheck:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }

fmt:
	gofmt -w .

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
