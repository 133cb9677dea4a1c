#!/usr/bin/env bash
# The completed authorize path on the Redis store over loopback, side by
# side with its ceiling. Builds the engine, examples/hooli, bench/seed,
# cmd/loadgen and bench/ceiling; starts one engine process with store.type
# redis (REDIS_URL, default redis://127.0.0.1:6379/0, under a key prefix
# unique to the run, deleted on exit); connects one user through a real
# authorization against the stand-in; starts the ceiling (an echo handler
# doing one Redis GET of a copy of the same connection record); then
# drives POST /v1/auth/authorize for that user on the engine and on the
# ceiling alternately, ROUNDS times each per concurrency level, and prints
# the medians and the ratios (targets: at least 1.0 × the ceiling's rps,
# a p99 no worse than the ceiling's) with the load average.
# Engine or ceiling, stand-in and load generator are pinned to the same
# CPUs (CPUS, default 0,1); Redis is not pinned.
#
#	bench/redis/authorize-load.sh                     # c = 8 32 128, 3 rounds of 5 s each
#	CONCURRENCY="16 64" DURATION=10s ROUNDS=5 bench/redis/authorize-load.sh
source "$(dirname "$0")/lib.sh"

CONCURRENCY=${CONCURRENCY:-8 32 128}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CEILING_PORT=${CEILING_PORT:-19198}

build cmd/authengine examples/hooli bench/seed cmd/loadgen bench/ceiling
start_redis_engines 1
machine
redis_info
body=$("$BIN/seed" -engine "$ENGINE" -key "$KEY" -provider standin -user bench-user -scopes read)
echo "seeded:  one connection through a real authorization; request body $body"

conn_key=$(redis_cli --scan --pattern "${PREFIX}conn:{*" | head -n1)
[ -n "$conn_key" ] || { echo "no connection record under ${PREFIX}conn:{...}" >&2; exit 1; }
redis_cli COPY "$conn_key" "${PREFIX}ceiling" REPLACE >/dev/null
echo "ceiling: one GET of ${PREFIX}ceiling, a copy of the $(redis_cli STRLEN "$conn_key")-byte connection record"
taskset -c "$CPUS" "$BIN/ceiling" -addr "127.0.0.1:$CEILING_PORT" -redis "$REDIS_URL" -key-name "${PREFIX}ceiling" \
	-api-key "$KEY" >"$TMP/ceiling.log" 2>&1 &
PIDS+=($!)
await_ceiling "http://127.0.0.1:$CEILING_PORT" "$body"

compare "$ENGINE/v1/auth/authorize" "http://127.0.0.1:$CEILING_PORT/v1/auth/authorize" "$body" 1.0 1.0
echo "engine:  VmHWM $(grep VmHWM /proc/$ENGINE_PID/status | awk '{print $2, $3}') after the runs"
echo "load:    $(loadavg) (after)"
