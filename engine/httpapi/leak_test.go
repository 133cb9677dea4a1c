package httpapi_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/authengine/authengine/internal/redistest"
)

// TestMain stops the tests' Redis and fails the package when its tests
// leave a goroutine running.
func TestMain(m *testing.M) {
	code := redistest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
