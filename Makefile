# daestro — one binary, three services (Postgres, Temporal, Docker).
# `make dev` runs the system locally; `make test` runs the whole suite (CI calls it).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO              ?= go
TOOLS_DIR       ?= $(shell $(GO) env GOPATH)/bin
WORKFLOWCHECK_VERSION := v0.6.0
WORKFLOWCHECK   := $(TOOLS_DIR)/workflowcheck-$(WORKFLOWCHECK_VERSION)
# -race where the time allows: on by default, RACE= turns it off.
RACE            ?= -race
TEST_FLAGS      ?=
PKGS            ?= ./...

.PHONY: help
help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/daestro
	$(GO) build -o bin/daestro ./cmd/daestro

.PHONY: generate
generate: ## regenerate the API client (client/client.gen.go) from schemas/openapi.json
	$(GO) generate ./client

.PHONY: dev
dev: ## start Postgres + Temporal (with Web UI) and run `daestro dev`; Ctrl-C stops
	scripts/dev.sh

.PHONY: services
services: ## start what the tests need: Postgres, headless Temporal, local test images, Chromium
	scripts/postgres.sh start >/dev/null
	scripts/temporal.sh start test >/dev/null
	scripts/docker-images.sh >/dev/null
	scripts/agent-image.sh >/dev/null
	scripts/chromium.sh >/dev/null

.PHONY: stop
stop: ## stop the project-local Postgres and Temporal servers
	scripts/temporal.sh stop test
	scripts/temporal.sh stop dev
	scripts/postgres.sh stop

.PHONY: test
test: ## start the services and run every test (unit, workflow, integration)
	eval "$$(scripts/postgres.sh start)"; \
	eval "$$(scripts/temporal.sh start test)"; \
	eval "$$(scripts/docker-images.sh)"; \
	eval "$$(scripts/agent-image.sh)"; \
	eval "$$(scripts/chromium.sh)"; \
	export DAESTRO_TEST_REQUIRE_SERVICES=1; \
	mkdir -p .data; \
	$(GO) test $(RACE) -count=1 -timeout 30m -v $(TEST_FLAGS) $(PKGS) 2>&1 | tee .data/test.log | scripts/test-summary.awk

.PHONY: record-histories
record-histories: ## record every workflow's history from the real system into workflows/testdata/histories (needs the services)
	eval "$$(scripts/postgres.sh start)"; \
	eval "$$(scripts/temporal.sh start test)"; \
	eval "$$(scripts/docker-images.sh)"; \
	eval "$$(scripts/agent-image.sh)"; \
	export DAESTRO_TEST_REQUIRE_SERVICES=1 DAESTRO_RECORD_HISTORIES=$(CURDIR)/workflows/testdata/histories; \
	$(GO) test -count=1 -timeout 15m -run '^TestRecordHistories$$' -v ./cmd/daestro 2>&1 | tail -n 40; \
	$(GO) test -count=1 -run '^TestReplay' ./workflows

.PHONY: bench
bench: ## run the benchmarks and print their figures
	eval "$$(scripts/postgres.sh start)"; \
	eval "$$(scripts/temporal.sh start test)"; \
	eval "$$(scripts/docker-images.sh)"; \
	eval "$$(scripts/agent-image.sh)"; \
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

.PHONY: fuzz
fuzz: ## fuzz every create route with arbitrary bodies for FUZZTIME (default 60s)
	eval "$$(scripts/postgres.sh start)"; \
	$(GO) test ./apiserver -run '^$$' -fuzz FuzzCreateBodies -fuzztime $${FUZZTIME:-60s}

.PHONY: lint
lint: $(WORKFLOWCHECK) ## go vet, gofmt and Temporal's workflowcheck
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(WORKFLOWCHECK) ./...

$(WORKFLOWCHECK):
	tmp=$$(mktemp -d); GOBIN=$$tmp $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION); \
	mkdir -p $(TOOLS_DIR); mv $$tmp/workflowcheck $@; rm -rf $$tmp

.PHONY: image
image: ## build the daestro Docker image (needs a registry for the base images)
	docker build -t daestro:dev .
