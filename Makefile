# The two commands a new user needs: `make run` and `make test`.
GO ?= go

.PHONY: run test check vet fmt bench bench-compare build image crash failover screenshots

run:
	$(GO) run ./cmd/authengine serve

# Every test, with the race detector. Tests that need Redis use
# AUTHENGINE_TEST_REDIS_URL, or start a private redis-server from PATH.
test:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

check:
	$(GO) run ./cmd/authengine check --config engine.yaml

# The version and commit `authengine version` prints.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o bin/authengine ./cmd/authengine

# A container image FROM scratch (no registry needed) from the binary
# `make build` produces, the host's CA bundle and deploy/image's passwd,
# group and Dockerfile; `Dockerfile` is the multi-stage build for users who
# can pull. IMAGE names the tag.
IMAGE ?= authengine:$(VERSION)
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
image: build
	rm -rf bin/image && mkdir -p bin/image/data
	cp bin/authengine deploy/image/Dockerfile deploy/image/passwd deploy/image/group engine.yaml bin/image/
	cp $(CA_BUNDLE) bin/image/ca-certificates.crt
	docker build -t $(IMAGE) bin/image

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The connected authorize path side by side with its ceilings (an echo
# handler doing one bbolt read, one doing one Redis GET), printing the
# ratios per concurrency level and the load average (docs/benchmarks.md).
# Needs a Redis at REDIS_URL (default redis://127.0.0.1:6379/0). Five
# alternated rounds of 10 s per level (about 13 minutes): single 5 s runs
# swing too much on a shared 2-core machine; ROUNDS and DURATION override.
bench-compare:
	ROUNDS=$${ROUNDS:-5} DURATION=$${DURATION:-10s} bench/compare.sh

# The long kill -9 loop (60 kills per store; `make test` runs 4): kills a
# real engine process at random moments during callbacks and refresh
# storms, on the embedded store and on Redis, and prints the counts that
# docs/production.md reports.
CRASH_KILLS ?= 60
crash:
	AUTHENGINE_CRASH_KILLS=$(CRASH_KILLS) $(GO) test -count=1 -timeout 60m -run '^TestEngineProcess$$/^kill_loop$$' -v ./cmd/authengine/

# The long failover run (`make test` runs each case once): starts a real
# Redis Cluster and a real Sentinel set, kills -9 the master holding a
# user's connection and, separately, its refresh lock, FAILOVER_ROUNDS
# times each, under three engine instances, and prints the figures
# docs/production.md reports (lines "failover figures").
FAILOVER_ROUNDS ?= 5
failover:
	AUTHENGINE_FAILOVER_ROUNDS=$(FAILOVER_ROUNDS) $(GO) test -count=1 -timeout 60m -run '^TestFailover$$' -v ./engine/cluster/

# The console's browser test (headless chromium), writing its screenshots
# into docs/console/ (docs/console.md shows them).
screenshots:
	AUTHENGINE_CONSOLE_SCREENSHOTS=$(CURDIR)/docs/console $(GO) test -count=1 -run '^TestConsoleInABrowser$$' ./engine/console/
