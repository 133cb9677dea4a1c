# Shared by the bench/redis scripts. It sources bench/lib.sh (build,
# machine, the stand-in, start_engines) and puts the engines on the Redis
# store instead: all of them share REDIS_URL and one key prefix unique to
# the run, whose keys are deleted on exit. A callback may be delivered to
# any engine, as behind a load balancer.
# Source it; it sets what bench/lib.sh sets, and PREFIX.
ENGINE_PORT=${ENGINE_PORT:-19199}
STANDIN_PORT=${STANDIN_PORT:-19200}
LOG_LEVEL=${LOG_LEVEL:-warn}
USER_INFO=${USER_INFO:-0}
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
PREFIX=bench-$(rand_b64 9 | tr '+/' '-_'):

redis_cli() { redis-cli -u "$REDIS_URL" "$@"; }

cleanup_redis() {
	# Delete this run's keys only (the server may be shared).
	redis_cli --scan --pattern "${PREFIX}*" 2>/dev/null | while read -r k; do redis_cli DEL "$k" >/dev/null; done || true
}
trap 'cleanup_redis; cleanup' EXIT

# store_yaml PORT: every engine on the same Redis and key prefix.
store_yaml() {
	echo "type: redis"
	echo "  redis: {url: \"$REDIS_URL\", key_prefix: \"$PREFIX\"}"
}

# start_redis_engines N checks that Redis answers, then runs start_engines N.
start_redis_engines() {
	if ! redis_cli PING >/dev/null 2>&1; then
		echo "no Redis answers at $REDIS_URL: start one (redis-server) or set REDIS_URL" >&2
		return 1
	fi
	start_engines "$@"
}

redis_info() {
	echo "redis:   $(redis_cli INFO server | grep -m1 redis_version | tr -d '\r'), $REDIS_URL, key prefix $PREFIX"
}
