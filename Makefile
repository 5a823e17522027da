# Sluice — build and test entry points. `make test` is what CI runs (via .ci/run).
SHELL := /bin/bash
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: build run test unit integration bench fuzz vet compose-check clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/sluice ./cmd/sluice

run:
	$(GO) run ./cmd/sluice serve

# The whole suite: hermetic unit tests, then the integration tests against real servers
# (MinIO, PostgreSQL, the sluice binary, the AWS CLI) that the harness starts and stops.
test: vet unit integration

vet:
	$(GO) vet ./...
	$(GO) vet -tags integration ./integration/...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

integration:
	$(GO) test -tags integration -count=1 -timeout 40m ./integration/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	@echo "run e.g.: go test -fuzz FuzzDecodePutRecords ./daemon/kinesisapi"

compose-check:
	docker-compose -f docker-compose.yml config -q

clean:
	rm -rf bin
