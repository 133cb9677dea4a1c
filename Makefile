# The two commands a new user needs: `make run` and `make test`.
GO ?= go

.PHONY: run test check vet fmt bench build

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

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/authengine ./cmd/authengine

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
