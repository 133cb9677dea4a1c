#!/usr/bin/env bash
# 10,000 concurrent GET /v1/auth/status?wait=59 held against one engine
# process on the embedded store: starts the engine and the examples/hooli
# stand-in (pinned to CPUS, default 0,1), then runs bench/waiters, which
# starts FLOWS pending flows, holds WAITERS waits spread over them, reads
# the engine's VmRSS, completes the flows through real callbacks and times
# the answers. Each process needs a file descriptor per connection: Go
# raises the soft RLIMIT_NOFILE to the hard limit itself, and this script
# raises the soft limit of the shell too.
#
#	bench/waiters.sh                      # 10,000 waits over 100 flows
#	WAITERS=2000 FLOWS=20 bench/waiters.sh
#	PROFILE_DIR=/tmp/prof bench/waiters.sh  # also save heap and goroutine profiles while held
source "$(dirname "$0")/lib.sh"

WAITERS=${WAITERS:-10000}
FLOWS=${FLOWS:-100}
ulimit_for "$WAITERS"

build cmd/authengine examples/hooli bench/waiters
start_engines 1
machine
echo "limits:  ulimit -n $(ulimit -n)"
taskset -c "$CPUS" "$BIN/waiters" -engines "$ENGINE" -pids "$ENGINE_PID" -key "$KEY" -flows "$FLOWS" -waiters "$WAITERS" -wait 59 \
	${PROFILE_DIR:+-profile "$PROFILE_DIR" -admin-key "$ADMIN"}
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (after)"
