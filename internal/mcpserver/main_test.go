package mcpserver

import (
	"testing"

	"go.uber.org/goleak"
)

// Pulser runs and the batched audit writes run in goroutines: none
// outlives the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
