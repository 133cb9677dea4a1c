#!/usr/bin/env bash
# How often the engine collects garbage on the connected authorize path,
# with the heap floor (runtime.gc_heap_floor_bytes) at its default and
# off. For each of the two, one engine on the embedded store (as in
# bench/authorize-load.sh, with GODEBUG=gctrace=1) is driven at C
# connections for DURATION, ROUNDS times, and the script prints the
# collections per second counted from the runtime's trace during each
# run and the median wall time of their concurrent mark, with loadgen's
# rps and p99. The two are alternated (floor, off;
# off, floor; ...) so both see the same machine.
#
#	bench/gc.sh                          # C=8, 3 rounds of 8 s each
#	C=32 ROUNDS=5 DURATION=10s bench/gc.sh
source "$(dirname "$0")/lib.sh"

C=${C:-8}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
build cmd/authengine examples/hooli bench/seed cmd/loadgen
machine

# one NAME YAML starts the stand-in and an engine with YAML appended to
# its configuration, runs the load once, and stops both.
one() {
	local name=$1 before after secs out
	EXTRA_YAML=$2 ENGINE_ENV="GODEBUG=gctrace=1" start_engines 1
	local body log=$TMP/engine-$ENGINE_PORT.log
	body=$("$BIN/seed" -engine "$ENGINE" -key "$KEY" -provider standin -user bench-user -scopes read)
	before=$(grep -c '^gc ' "$log" || true)
	out=$(load_run "$name" "$ENGINE/v1/auth/authorize" "$C" "$body")
	after=$(grep -c '^gc ' "$log" || true)
	secs=$(( ${DURATION%s} + 1 )) # loadgen's warm-up second is counted too
	# The median wall time of a collection's concurrent mark, the middle
	# of gctrace's "A+B+C ms clock", over this run's collections.
	mark=$(grep '^gc ' "$log" | tail -n +$((before + 1)) | head -n $((after - before)) |
		sed -n 's/.*%: [0-9.]*+\([0-9.]*\)+[0-9.]* ms clock.*/\1/p' | median)
	echo "$out" | sed "s/\$/ gcs=$((after - before)) gc_per_s=$(( (after - before) / secs )) mark_p50=${mark:-0}ms/"
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	PIDS=() ENGINES=() ENGINE_PIDS=()
	rm -rf "$TMP"/data-* 
}

for i in $(seq "$ROUNDS"); do
	if [ $((i % 2)) -eq 1 ]; then
		one floor "" ; one off "runtime: {gc_heap_floor_bytes: 0}"
	else
		one off "runtime: {gc_heap_floor_bytes: 0}" ; one floor ""
	fi
done
echo "load:    $(loadavg) (after)"
