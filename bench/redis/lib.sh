# Shared by the bench/redis scripts. It sources bench/lib.sh (build,
# machine, the bench/standin provider) and starts engines on the Redis store
# instead: every engine process gets the same configuration but its own
# port, and all of them share REDIS_URL and one key prefix unique to the
# run, whose keys are deleted on exit. The public URL (and so the redirect
# URI registered at the stand-in) is the first engine's; a callback may be
# delivered to any of them, as behind a load balancer.
# Source it; it sets TMP, BIN, ENGINES (origins), ENGINE_PIDS, KEY, PREFIX.
ENGINE_PORT=${ENGINE_PORT:-19199}
STANDIN_PORT=${STANDIN_PORT:-19200}
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
PREFIX=bench-$(rand_b64 9 | tr '+/' '-_'):
ENGINES=()
ENGINE_PIDS=()

redis_cli() { redis-cli -u "$REDIS_URL" "$@"; }

cleanup_redis() {
	# Delete this run's keys only (the server may be shared).
	redis_cli --scan --pattern "${PREFIX}*" 2>/dev/null | while read -r k; do redis_cli DEL "$k" >/dev/null; done || true
}
trap 'cleanup_redis; cleanup' EXIT

# write_config PORT writes $TMP/engine-PORT.yaml.
write_config() {
	local port=$1
	cat >"$TMP/engine-$port.yaml" <<YAML
data_dir: $TMP/data-$port
api:
  development: false
  host: 127.0.0.1
  port: $port
  public_url: http://127.0.0.1:$ENGINE_PORT
  api_keys: ["$KEY"]
  admin_keys: ["$ADMIN"]
security:
  root_keys:
    - {id: bench, value: "$ROOT_KEY"}
store:
  type: redis
  redis: {url: "$REDIS_URL", key_prefix: "$PREFIX"}
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
telemetry:
  log: {level: warn, format: json}
  metrics: {enabled: true, path: /metrics}
YAML
}

# await_health ORIGIN LOG waits until an engine answers /v1/health.
await_health() {
	for _ in $(seq 100); do
		if curl -fsS "$1/v1/health" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "engine at $1 did not become healthy:" >&2
	cat "$2" >&2
	return 1
}

# start_redis_engines N starts bench/standin (on STANDIN_PORT) and N engine
# processes, the first on ENGINE_PORT and engine i >= 1 on ENGINE_PORT+2+i
# (stepping over the stand-in's port), all pinned to $CPUS.
start_redis_engines() {
	local n=${1:-1}
	if ! redis_cli PING >/dev/null 2>&1; then
		echo "no Redis answers at $REDIS_URL: start one (redis-server) or set REDIS_URL" >&2
		return 1
	fi
	KEY=ae_bench_$(rand_b64 24 | tr '+/' '-_' | tr -d '=')
	ADMIN=ae_admin_$(rand_b64 24 | tr '+/' '-_' | tr -d '=')
	ROOT_KEY=$(rand_b64 32)
	taskset -c "$CPUS" "$BIN/standin" -addr "127.0.0.1:$STANDIN_PORT" -redirect-uri "http://127.0.0.1:$ENGINE_PORT/oauth/callback" >"$TMP/standin.log" 2>&1 &
	PIDS+=($!)
	for i in $(seq 0 $((n - 1))); do
		local port=$((ENGINE_PORT + 2 + i))
		[ "$i" -eq 0 ] && port=$ENGINE_PORT
		write_config "$port"
		taskset -c "$CPUS" "$BIN/authengine" serve --config "$TMP/engine-$port.yaml" >"$TMP/engine-$port.out" 2>"$TMP/engine-$port.log" &
		PIDS+=($!)
		ENGINE_PIDS+=($!)
		ENGINES+=("http://127.0.0.1:$port")
	done
	for i in "${!ENGINES[@]}"; do
		await_health "${ENGINES[$i]}" "$TMP/engine-$(basename "${ENGINES[$i]}" | cut -d: -f2).log"
	done
	ENGINE=${ENGINES[0]}
	ENGINE_PID=${ENGINE_PIDS[0]}
}

redis_info() {
	echo "redis:   $(redis_cli INFO server | grep -m1 redis_version | tr -d '\r'), $REDIS_URL, key prefix $PREFIX"
}
