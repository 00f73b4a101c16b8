// The package's TestMain: goroutine leak checks, and the fault server child
// process of BenchmarkWire.

package sink

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(faultChildEnv) != "" {
		// A fault server for BenchmarkWire, in a process of its own so
		// that its CPU is counted apart from the sink's.
		os.Exit(serveFaultChild())
	}
	goleak.VerifyTestMain(m)
}
