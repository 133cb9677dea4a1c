#!/usr/bin/env bash
# Load run of the completed authorize path over loopback: builds the engine,
# the examples/hooli stand-in provider, bench/seed and cmd/loadgen; starts
# the engine on the embedded store with one provider at the stand-in;
# connects one user through a real authorization; then drives POST
# /v1/auth/authorize for that user (answered "completed" with the token)
# at several concurrency levels.
# Engine, stand-in and load generator all run pinned to the same CPUs
# (CPUS, default 0,1), so the figures are for 2 cores shared by the engine
# and its client.
#
#	bench/authorize-load.sh                    # c = 1 8 32 128, 10 s each
#	CONCURRENCY="16 64" DURATION=5s bench/authorize-load.sh
source "$(dirname "$0")/lib.sh"

CONCURRENCY=${CONCURRENCY:-1 8 32 128}
DURATION=${DURATION:-10s}

build cmd/authengine examples/hooli bench/seed cmd/loadgen
start_engines 1
machine
body=$("$BIN/seed" -engine "$ENGINE" -key "$KEY" -provider standin -user bench-user -scopes read)
echo "seeded:  one connection through a real authorization; request body $body"
for c in $CONCURRENCY; do
	taskset -c "$CPUS" "$BIN/loadgen" -url "$ENGINE/v1/auth/authorize" -method POST \
		-header "Authorization: Bearer $KEY" -body "$body" -c "$c" -d "$DURATION" -warmup 1s
done
echo "engine:  VmHWM $(grep VmHWM /proc/$ENGINE_PID/status | awk '{print $2, $3}') after the runs"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (after)"
