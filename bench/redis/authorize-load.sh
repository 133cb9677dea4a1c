#!/usr/bin/env bash
# Load run of the completed authorize path on the Redis store over
# loopback, and of its ceiling. Builds the engine, examples/hooli, bench/seed,
# cmd/loadgen and bench/redis/ceiling; starts one engine process with
# store.type redis (REDIS_URL, default redis://127.0.0.1:6379/0, under a
# key prefix unique to the run, deleted on exit); connects one user through
# a real authorization against the stand-in; drives POST /v1/auth/authorize
# for that user (answered "completed" with the token: one Redis GET, one
# unseal) at each concurrency level, each followed by the same run against
# the ceiling (an echo handler doing one Redis GET of a copy of the same
# connection record), and prints the ratios.
# Engine or ceiling, stand-in and load generator are pinned to the same
# CPUs (CPUS, default 0,1); Redis is not pinned.
#
#	bench/redis/authorize-load.sh                     # c = 8 32 128, 10 s each
#	CONCURRENCY="16 64" DURATION=5s bench/redis/authorize-load.sh
source "$(dirname "$0")/lib.sh"

CONCURRENCY=${CONCURRENCY:-8 32 128}
DURATION=${DURATION:-10s}
CEILING_PORT=${CEILING_PORT:-19198}

build cmd/authengine examples/hooli bench/seed cmd/loadgen bench/redis/ceiling
start_redis_engines 1
machine
redis_info
body=$("$BIN/seed" -engine "$ENGINE" -key "$KEY" -provider standin -user bench-user -scopes read)
echo "seeded:  one connection through a real authorization; request body $body"

load() { # load NAME URL C: prints loadgen's line, then its rps alone
	local out
	out=$(taskset -c "$CPUS" "$BIN/loadgen" -url "$2" -method POST \
		-header "Authorization: Bearer $KEY" -body "$body" -c "$3" -d "$DURATION" -warmup 1s)
	echo "$1 $out"
	echo "$out" | sed -n 's/.*rps=\([0-9]*\).*/\1/p'
}

conn_key=$(redis_cli --scan --pattern "${PREFIX}conn:*" | head -n1)
redis_cli SET "${PREFIX}ceiling" "$(redis_cli GET "$conn_key")" >/dev/null
echo "ceiling: one GET of ${PREFIX}ceiling, a copy of the $(redis_cli STRLEN "$conn_key")-byte connection record"
taskset -c "$CPUS" "$BIN/ceiling" -addr "127.0.0.1:$CEILING_PORT" -redis "$REDIS_URL" -key-name "${PREFIX}ceiling" -api-key "$KEY" >"$TMP/ceiling.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do curl -fsS -o /dev/null -X POST "http://127.0.0.1:$CEILING_PORT/v1/auth/authorize" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$body" 2>/dev/null && break; sleep 0.1; done

# Engine and ceiling run back to back at each level (both stay up, idle
# when not loaded), so a change in the machine's load between levels
# skews the ratio less.
ratios=()
for c in $CONCURRENCY; do
	out=$(load engine "$ENGINE/v1/auth/authorize" "$c")
	echo "$out" | head -n1
	e=$(echo "$out" | tail -n1)
	out=$(load ceiling "http://127.0.0.1:$CEILING_PORT/v1/auth/authorize" "$c")
	echo "$out" | head -n1
	x=$(echo "$out" | tail -n1)
	ratios+=("$(awk -v c="$c" -v e="$e" -v x="$x" 'BEGIN { printf "ratio:   c=%s engine %s rps / ceiling %s rps = %.2f", c, e, x, (x > 0 ? e / x : 0) }')")
done
printf '%s\n' "${ratios[@]}"
echo "engine:  VmHWM $(grep VmHWM /proc/$ENGINE_PID/status | awk '{print $2, $3}') after the runs"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (after)"
