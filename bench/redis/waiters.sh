#!/usr/bin/env bash
# 10,000 concurrent GET /v1/auth/status?wait=59 held across three engine
# processes sharing one Redis (REDIS_URL, default redis://127.0.0.1:6379/0,
# under a key prefix unique to the run). Starts the examples/hooli stand-in
# and the engines (pinned to CPUS, default 0,1), then runs bench/waiters
# with every engine: FLOWS pending flows started round-robin, WAITERS waits
# spread over every engine and flow, total VmRSS while they are held, then
# every flow completed through a real callback on another engine than the
# one that started it, and the time from each callback to each waiter's
# answer.
#
#	bench/redis/waiters.sh                        # 10,000 waits, 100 flows, 3 engines
#	WAITERS=3000 FLOWS=30 ENGINES_N=2 bench/redis/waiters.sh
#	PROFILE_DIR=/tmp/prof bench/redis/waiters.sh  # also save heap and goroutine profiles while held
source "$(dirname "$0")/lib.sh"

WAITERS=${WAITERS:-10000}
FLOWS=${FLOWS:-100}
ENGINES_N=${ENGINES_N:-3}
ulimit_for "$WAITERS"

build cmd/authengine examples/hooli bench/waiters
start_redis_engines "$ENGINES_N"
machine
redis_info
echo "limits:  ulimit -n $(ulimit -n)"
taskset -c "$CPUS" "$BIN/waiters" -engines "$(list "${ENGINES[@]}")" -pids "$(list "${ENGINE_PIDS[@]}")" \
	-key "$KEY" -flows "$FLOWS" -waiters "$WAITERS" -wait 59 \
	${PROFILE_DIR:+-profile "$PROFILE_DIR" -admin-key "$ADMIN"}
echo "redis:   $(redis_cli INFO clients | grep -E 'connected_clients|pubsub_clients' | tr -d '\r' | tr '\n' ' ')"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (after)"
