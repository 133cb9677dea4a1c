# Shared by the bench/ scripts: build the binaries, write an engine config
# for the embedded store and one provider at bench/standin, start both, and
# stop them on exit. Source it; it sets TMP, BIN, ENGINE, KEY, ENGINE_PID.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENGINE_PORT=${ENGINE_PORT:-19099}
STANDIN_PORT=${STANDIN_PORT:-19100}
CPUS=${CPUS:-0,1}
TMP=$(mktemp -d /tmp/authengine-bench.XXXXXX)
BIN=$TMP/bin
ENGINE=http://127.0.0.1:$ENGINE_PORT
PIDS=()

cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

build() {
	mkdir -p "$BIN"
	(cd "$ROOT" && for p in "$@"; do go build -trimpath -o "$BIN/$(basename "$p")" "./$p"; done)
}

rand_b64() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }

# start_engine writes the config and starts bench/standin and the engine,
# both pinned to $CPUS, and waits until the engine answers.
start_engine() {
	KEY=ae_bench_$(rand_b64 24 | tr '+/' '-_' | tr -d '=')
	local admin root
	admin=ae_admin_$(rand_b64 24 | tr '+/' '-_' | tr -d '=')
	root=$(rand_b64 32)
	cat >"$TMP/engine.yaml" <<YAML
data_dir: $TMP/data
api:
  development: false
  host: 127.0.0.1
  port: $ENGINE_PORT
  public_url: $ENGINE
  api_keys: ["$KEY"]
  admin_keys: ["$admin"]
security:
  root_keys:
    - {id: bench, value: "$root"}
store:
  type: embedded
  embedded: {path: $TMP/data/authengine.db}
auth:
  flow_ttl: 10m
  refresh_margin: 60s
  providers:
    - id: standin
      client_id: bench-client
      client_secret: bench-secret
      oauth2:
        grant_type: authorization_code
        scope_delimiter: " "
        allowed_scopes: [read, write]
        pkce: {enabled: true}
        authorize_request:
          endpoint: http://127.0.0.1:$STANDIN_PORT/authorize
          params:
            response_type: code
            client_id: <<client_id>>
            redirect_uri: <<redirect_uri>>
            scope: <<scopes>> <<existing_scopes>>
        token_request:
          endpoint: http://127.0.0.1:$STANDIN_PORT/token
          auth_method: client_secret_basic
          params:
            grant_type: authorization_code
            redirect_uri: <<redirect_uri>>
        refresh_token_request:
          endpoint: http://127.0.0.1:$STANDIN_PORT/token
          auth_method: client_secret_basic
          params:
            grant_type: refresh_token
            refresh_token: <<refresh_token>>
        user_info_request:
          endpoint: http://127.0.0.1:$STANDIN_PORT/userinfo
          auth_method: bearer_access_token
          triggers: {on_token_grant: true}
telemetry:
  log: {level: info, format: json}
  metrics: {enabled: true, path: /metrics}
YAML
	taskset -c "$CPUS" "$BIN/standin" -addr "127.0.0.1:$STANDIN_PORT" -redirect-uri "$ENGINE/oauth/callback" >"$TMP/standin.log" 2>&1 &
	PIDS+=($!)
	# ENGINE_ENV: extra environment for the engine only, e.g. "GOGC=50".
	env ${ENGINE_ENV:-} taskset -c "$CPUS" "$BIN/authengine" serve --config "$TMP/engine.yaml" >"$TMP/engine.out" 2>"$TMP/engine.log" &
	ENGINE_PID=$!
	PIDS+=("$ENGINE_PID")
	for _ in $(seq 100); do
		if curl -fsS "$ENGINE/v1/health" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "engine did not start:" >&2
	cat "$TMP/engine.out" "$TMP/engine.log" >&2
	return 1
}

machine() {
	echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "machine: nproc=$(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
	echo "engine:  env ${ENGINE_ENV:-(default GOGC, no GOMEMLIMIT)}"
	echo "commit:  $(cd "$ROOT" && git rev-parse --short HEAD)"
}
