# jeton: `make test` is what CI runs (see .ci/run).

GO ?= go

.PHONY: test vet fmt fmtcheck build run

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
