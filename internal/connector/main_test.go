package connector

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMany and the reports start goroutines: none outlives the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
