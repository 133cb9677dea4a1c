#!/usr/bin/env bash
# The completed authorize path on the embedded store over loopback, side by
# side with its ceiling. Builds the engine, the examples/hooli stand-in,
# bench/seed, cmd/loadgen and bench/ceiling; starts the engine on the
# embedded store with one provider at the stand-in; connects one user
# through a real authorization; copies the engine's database file and
# starts the ceiling on it (an echo handler doing one bbolt read of a copy
# of the user's connection record); then drives POST /v1/auth/authorize
# for that user (answered "completed" with the token) on the engine and on
# the ceiling alternately, ROUNDS times each per concurrency level, and
# prints the medians and the ratios (targets: at least 0.8 × the ceiling's
# rps, a p99 at most 1.5 × the ceiling's) with the load average.
# Engine or ceiling, stand-in and load generator all run pinned to the
# same CPUs (CPUS, default 0,1), so the figures are for 2 cores shared by
# the server and its client.
#
#	bench/authorize-load.sh                    # c = 8 32 128, 3 rounds of 5 s each
#	CONCURRENCY="16 64" DURATION=10s ROUNDS=5 bench/authorize-load.sh
source "$(dirname "$0")/lib.sh"

CONCURRENCY=${CONCURRENCY:-8 32 128}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CEILING_PORT=${CEILING_PORT:-19098}

build cmd/authengine examples/hooli bench/seed cmd/loadgen bench/ceiling
start_engines 1
machine
body=$("$BIN/seed" -engine "$ENGINE" -key "$KEY" -provider standin -user bench-user -scopes read)
echo "seeded:  one connection through a real authorization; request body $body"

# The engine keeps its file locked; the ceiling reads the record from a
# copy (taken while nothing writes: the seed has returned) into its own file.
cp "$TMP/data-$ENGINE_PORT/authengine.db" "$TMP/engine-copy.db"
taskset -c "$CPUS" "$BIN/ceiling" -addr "127.0.0.1:$CEILING_PORT" -bolt "$TMP/ceiling.db" \
	-record-from "$TMP/engine-copy.db" -api-key "$KEY" >"$TMP/ceiling.log" 2>&1 &
PIDS+=($!)
await_ceiling "http://127.0.0.1:$CEILING_PORT" "$body"
head -n1 "$TMP/ceiling.log"

compare "$ENGINE/v1/auth/authorize" "http://127.0.0.1:$CEILING_PORT/v1/auth/authorize" "$body" 0.8 1.5
echo "engine:  VmHWM $(grep VmHWM /proc/$ENGINE_PID/status | awk '{print $2, $3}') after the runs"
echo "load:    $(loadavg) (after)"
