# Powny. `make help` lists the targets.
GO ?= go
export GOTOOLCHAIN := local

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/powny
	$(GO) build -o bin/powny ./cmd/powny

.PHONY: dev
dev: ## Run the whole platform locally with a private Postgres
	$(GO) run ./cmd/powny dev

.PHONY: test
test: vet ## Format check, go vet, and every test (needs the PostgreSQL server binaries)
	$(GO) test -count=1 -timeout 20m ./...

.PHONY: vet
vet: ## gofmt check and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: lint
lint: vet ## golangci-lint with the project's configuration (tools/go.mod pins it)
	$(GO) tool -modfile=tools/go.mod golangci-lint run ./...

.PHONY: bench
bench: ## Benchmarks with the figures named in the issues (invoke latency, throughput vs plain River, events, matching)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/
	$(GO) test -run '^$$' -bench . -benchtime 2s ./platform/match/

.PHONY: clean
clean: ## Remove build output
	rm -rf bin
