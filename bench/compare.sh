#!/usr/bin/env bash
# Both side-by-side comparisons of the completed authorize path with their
# ceilings, one after the other: the embedded store (bench/authorize-load.sh)
# then Redis (bench/redis/authorize-load.sh). Each prints, per concurrency
# level, the medians of engine and ceiling, the rps and p99 ratios against
# the targets, and the load average. The environment (CONCURRENCY,
# DURATION, ROUNDS, CPUS, REDIS_URL) goes to both. `make bench-compare`
# runs it.
set -euo pipefail
dir=$(dirname "$0")
echo "== embedded store (bbolt) =="
"$dir/authorize-load.sh"
echo
echo "== Redis =="
"$dir/redis/authorize-load.sh"
