package clustertest

import (
	"testing"

	"go.uber.org/goleak"
)

// noLeaks fails t if goroutines started during the test outlive it. It
// must be called first, so that its cleanup runs after every other one.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}
