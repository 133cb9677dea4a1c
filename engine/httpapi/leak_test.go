package httpapi_test

import (
	"testing"

	"github.com/authengine/authengine/internal/redistest"
)

// TestMain stops the tests' Redis and fails the package when its tests
// leave a goroutine running.
func TestMain(m *testing.M) { redistest.MainNoLeaks(m) }
