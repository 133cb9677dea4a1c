package redis

import (
	"context"
	"errors"
	"net"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// reloadOnFailure makes a Cluster client re-read the slot map (CLUSTER
// SLOTS from a live node) as soon as a command fails for want of its node.
//
// go-redis reloads the slot map on MOVED and READONLY replies and
// otherwise only every 60 s. A master killed outright sends no MOVED: its
// clients keep dialing the dead address, and every instance answered 503
// for up to a minute after the replica had been promoted. With this hook
// the first failing command after the promotion asks for a new map (go-redis
// coalesces concurrent requests and spaces reloads 200 ms apart), so the
// engine follows the promotion within a fraction of a second.
type reloadOnFailure struct{ c *goredis.ClusterClient }

func (h reloadOnFailure) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h reloadOnFailure) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if nodeLost(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		if nodeLost(err) {
			h.c.ReloadState(ctx)
		}
		for _, cmd := range cmds {
			if err == nil && nodeLost(cmd.Err()) {
				h.c.ReloadState(ctx)
				break
			}
		}
		return err
	}
}

// nodeLost reports whether err says the node serving a command is gone or
// not serving: a network error or timeout, or a CLUSTERDOWN / TRYAGAIN /
// MASTERDOWN reply. Ordinary replies (nil, a failed transaction, a script
// error) and a caller's cancellation are not.
func nodeLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		return strings.HasPrefix(msg, "CLUSTERDOWN") || strings.HasPrefix(msg, "TRYAGAIN") || strings.HasPrefix(msg, "MASTERDOWN")
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "connection")
}
