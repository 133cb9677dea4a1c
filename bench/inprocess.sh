#!/usr/bin/env bash
# The in-process benchmarks of docs/benchmarks.md, with the flags that
# produced its figures, and the CPU profile of the connected authorize path.
#
#	bench/inprocess.sh            # benchmarks, then the profile's top costs
set -euo pipefail
cd "$(dirname "$0")/.."
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
go test -run '^$' -bench 'AuthorizeConnected|StatusCompleted|RoundTrip' -benchtime 3s -count 3 ./engine/httpapi
go test -run '^$' -bench 'StatusWaitMemory' -benchtime 1x ./engine/httpapi
prof=$(mktemp -d)
trap 'rm -rf "$prof"' EXIT
go test -run '^$' -bench 'AuthorizeConnected/through_the_echo_handler$' -benchtime 5s \
	-cpuprofile "$prof/cpu.out" -o "$prof/httpapi.test" ./engine/httpapi >/dev/null
go tool pprof -top -cum -nodecount 45 "$prof/httpapi.test" "$prof/cpu.out" 2>/dev/null
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (after)"
