# Shared by the bench/ scripts: build the binaries, write the engine
# configuration (one provider, "standin", at the examples/hooli stand-in),
# start the stand-in and one or more engine processes, and stop them on
# exit. Source it; it sets TMP, BIN, ENGINES (origins), ENGINE_PIDS, ENGINE
# and ENGINE_PID (the first engine's), KEY. bench/redis/lib.sh redefines
# store_yaml to put the engines on Redis.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENGINE_PORT=${ENGINE_PORT:-19099}
STANDIN_PORT=${STANDIN_PORT:-19100}
CPUS=${CPUS:-0,1}
LOG_LEVEL=${LOG_LEVEL:-info}
USER_INFO=${USER_INFO:-1}
# PROFILE_DIR, when set, turns telemetry.pprof on (the scripts that can
# save profiles there do). EXTRA_YAML, when set, is appended to every
# engine's configuration (top-level sections, e.g. "runtime: {...}").
PPROF=false
[ -n "${PROFILE_DIR:-}" ] && PPROF=true
TMP=$(mktemp -d /tmp/authengine-bench.XXXXXX)
BIN=$TMP/bin
PIDS=()
ENGINES=()
ENGINE_PIDS=()

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
rand_key() { echo "$1$(rand_b64 24 | tr '+/' '-_' | tr -d '=')"; }

# store_yaml PORT prints the store section of engine PORT's configuration:
# the embedded store in the engine's own data directory.
store_yaml() {
	echo "type: embedded"
	echo "  embedded: {path: $TMP/data-$1/authengine.db}"
}

# user_info_yaml prints the provider's user_info_request unless USER_INFO
# is 0 (the Redis runs leave it out, as their figures were taken without).
user_info_yaml() {
	[ "$USER_INFO" = 0 ] && return 0
	cat <<YAML
        user_info_request:
          endpoint: http://127.0.0.1:$STANDIN_PORT/oauth/userinfo
          auth_method: bearer_access_token
          triggers: {on_token_grant: true}
YAML
}

# write_config PORT writes $TMP/engine-PORT.yaml. Every engine has the
# same configuration but its port; the public URL (and so the redirect URI
# registered at the stand-in) is the first engine's.
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
  # The benchmarks measure the engine, not its request limits.
  rate_limits: {api_key: {per_second: 0}, callback: {per_second: 0}, flows_per_user: 0, flows_per_api_key: 0}
security:
  root_keys:
    - {id: bench, value: "$ROOT_KEY"}
store:
  $(store_yaml "$port")
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
          endpoint: http://127.0.0.1:$STANDIN_PORT/oauth/authorize
          params:
            response_type: code
            client_id: <<client_id>>
            redirect_uri: <<redirect_uri>>
            scope: <<scopes>> <<existing_scopes>>
        token_request:
          endpoint: http://127.0.0.1:$STANDIN_PORT/oauth/token
          auth_method: client_secret_basic
          params:
            grant_type: authorization_code
            redirect_uri: <<redirect_uri>>
        refresh_token_request:
          endpoint: http://127.0.0.1:$STANDIN_PORT/oauth/token
          auth_method: client_secret_basic
          params:
            grant_type: refresh_token
            refresh_token: <<refresh_token>>
$(user_info_yaml)
telemetry:
  log: {level: $LOG_LEVEL, format: json}
  metrics: {enabled: true, path: /metrics}
  pprof: $PPROF
${EXTRA_YAML:-}
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

# start_engines N starts the stand-in (examples/hooli, on STANDIN_PORT) and
# N engine processes, the first on ENGINE_PORT and engine i >= 1 on
# ENGINE_PORT+2+i (stepping over the stand-in's port), all pinned to $CPUS,
# and waits until every engine answers. ENGINE_ENV is extra environment for
# the engines only, e.g. "GOGC=50".
start_engines() {
	local n=${1:-1} i port
	KEY=$(rand_key ae_bench_)
	ADMIN=$(rand_key ae_admin_)
	ROOT_KEY=$(rand_b64 32)
	HOOLI_CLIENT_ID=bench-client HOOLI_CLIENT_SECRET=bench-secret taskset -c "$CPUS" "$BIN/hooli" \
		-addr "127.0.0.1:$STANDIN_PORT" -redirect-uri "http://127.0.0.1:$ENGINE_PORT/oauth/callback" >"$TMP/standin.log" 2>&1 &
	PIDS+=($!)
	for i in $(seq 0 $((n - 1))); do
		port=$((ENGINE_PORT + 2 + i))
		[ "$i" -eq 0 ] && port=$ENGINE_PORT
		write_config "$port"
		env ${ENGINE_ENV:-} taskset -c "$CPUS" "$BIN/authengine" serve --config "$TMP/engine-$port.yaml" \
			>"$TMP/engine-$port.out" 2>"$TMP/engine-$port.log" &
		PIDS+=($!)
		ENGINE_PIDS+=($!)
		ENGINES+=("http://127.0.0.1:$port")
	done
	for i in "${!ENGINES[@]}"; do
		port=${ENGINES[$i]##*:}
		await_health "${ENGINES[$i]}" "$TMP/engine-$port.log" || { cat "$TMP/engine-$port.out" >&2; return 1; }
	done
	ENGINE=${ENGINES[0]}
	ENGINE_PID=${ENGINE_PIDS[0]}
}

# list joins its arguments with commas.
list() { (IFS=,; echo "$*"); }

# ulimit_for N raises the soft open-file limit to the hard one and fails
# unless it leaves room for N connections.
ulimit_for() {
	ulimit -n "$(ulimit -Hn)"
	if [ "$(ulimit -n)" -lt $(($1 + 1000)) ]; then
		echo "ulimit -n is $(ulimit -n): each process needs more than $1 file descriptors" >&2
		exit 1
	fi
}

machine() {
	echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "machine: nproc=$(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
	echo "engine:  env ${ENGINE_ENV:-(default GOGC, no GOMEMLIMIT)}"
	echo "commit:  $(cd "$ROOT" && git rev-parse --short HEAD)"
}

# loadavg is the 1, 5 and 15 minute load averages.
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# median reads numbers, one a line, and prints their median (the lower
# middle one for an even count).
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# load_run NAME URL C BODY drives POST URL with BODY at C connections for
# DURATION after a 1 s warm-up (loadgen, pinned to $CPUS, every answer
# must be 200), prints loadgen's line after NAME, and appends
# "NAME C rps p99_us" to $TMP/runs.
load_run() {
	local out nums
	out=$(taskset -c "$CPUS" "$BIN/loadgen" -url "$2" -method POST -header "Authorization: Bearer $KEY" \
		-body "$4" -c "$3" -d "$DURATION" -warmup 1s -numbers)
	printf '%-8s %s\n' "$1" "$(echo "$out" | head -n1)"
	nums=$(echo "$out" | sed -n 's/^numbers: rps=\([0-9]*\) p50_us=[0-9]* p99_us=\([0-9]*\)$/\1 \2/p')
	echo "$1 $3 $nums" >>"$TMP/runs"
}

# compare URL CEILING_URL BODY TARGET_RPS TARGET_P99 loads the engine at
# URL and the ceiling at CEILING_URL side by side: at each level of
# CONCURRENCY, ROUNDS runs of each, alternated (engine, ceiling; then
# ceiling, engine; ...) so that a change of load on the machine weighs on
# both. Per level it prints the medians, the engine/ceiling ratios of rps
# and of p99 (against the targets: rps ratio at least TARGET_RPS, p99
# ratio at most TARGET_P99) and the load average before and after.
compare() {
	local url=$1 ceiling=$2 body=$3 trps=$4 tp99=$5 c r before
	local -a summary=()
	: >"$TMP/runs"
	for c in $CONCURRENCY; do
		before=$(loadavg)
		for r in $(seq "$ROUNDS"); do
			if [ $((r % 2)) = 1 ]; then
				load_run engine "$url" "$c" "$body"
				load_run ceiling "$ceiling" "$c" "$body"
			else
				load_run ceiling "$ceiling" "$c" "$body"
				load_run engine "$url" "$c" "$body"
			fi
		done
		summary+=("$(
			er=$(awk -v c="$c" '$1 == "engine" && $2 == c { print $3 }' "$TMP/runs" | median)
			ep=$(awk -v c="$c" '$1 == "engine" && $2 == c { print $4 }' "$TMP/runs" | median)
			cr=$(awk -v c="$c" '$1 == "ceiling" && $2 == c { print $3 }' "$TMP/runs" | median)
			cp=$(awk -v c="$c" '$1 == "ceiling" && $2 == c { print $4 }' "$TMP/runs" | median)
			awk -v c="$c" -v er="$er" -v ep="$ep" -v cr="$cr" -v cp="$cp" -v trps="$trps" -v tp99="$tp99" \
				-v before="$before" -v after="$(loadavg)" 'BEGIN {
				rr = cr > 0 ? er / cr : 0; pr = cp > 0 ? ep / cp : 0
				printf "c=%-4s engine %6d rps p99 %6.2f ms | ceiling %6d rps p99 %6.2f ms | rps ratio %.2f (target >= %s: %s) | p99 ratio %.2f (target <= %s: %s) | load %s -> %s\n",
					c, er, ep / 1000, cr, cp / 1000, rr, trps, (rr >= trps ? "met" : "NOT met"), pr, tp99, (pr <= tp99 ? "met" : "NOT met"), before, after
			}'
		)")
	done
	echo "medians of $ROUNDS runs per level, $DURATION each, engine and ceiling alternated:"
	printf '%s\n' "${summary[@]}"
}

# await_ceiling ORIGIN BODY waits until the ceiling answers an authorize.
await_ceiling() {
	for _ in $(seq 100); do
		if curl -fsS -o /dev/null -X POST "$1/v1/auth/authorize" -H "Authorization: Bearer $KEY" \
			-H 'Content-Type: application/json' -d "$2" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "the ceiling at $1 did not answer:" >&2
	cat "$TMP/ceiling.log" >&2
	return 1
}
