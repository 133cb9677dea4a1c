package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// TestNodeLost: which command errors make a Cluster client re-read its
// slot map. Network failures and a cluster that is not serving do;
// ordinary replies and a caller's cancellation do not.
func TestNodeLost(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"key not found", goredis.Nil, false},
		{"transaction lost a race", goredis.TxFailedErr, false},
		{"script error reply", replyErr("ERR user_script:1: oops"), false},
		{"wrong type reply", replyErr("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{"caller cancelled", context.Canceled, false},
		{"connection refused", refused, true},
		{"wrapped connection refused", fmt.Errorf("get connection: %w", refused), true},
		{"connection reset", io.EOF, true},
		{"timeout", context.DeadlineExceeded, true},
		{"closed connection", net.ErrClosed, true},
		{"cluster down", replyErr("CLUSTERDOWN The cluster is down"), true},
		{"try again", replyErr("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{"master down", replyErr("MASTERDOWN Link with MASTER is down"), true},
		{"other error", errors.New("something else"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := nodeLost(tc.err); got != tc.want {
				t.Errorf("nodeLost(%v) = %t, want %t", tc.err, got, tc.want)
			}
		})
	}
}

// replyErr is an error reply from Redis, as go-redis returns one.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}
