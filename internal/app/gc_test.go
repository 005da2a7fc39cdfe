package app

import (
	"runtime/debug"
	"testing"
)

// ipai serve collects at ServerGOGC unless the operator set GOGC.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	t.Setenv("GOGC", "")
	TuneGC()
	if got := debug.SetGCPercent(100); got != ServerGOGC {
		t.Fatalf("GOGC unset: GC percent %d, want %d", got, ServerGOGC)
	}
	t.Setenv("GOGC", "150") // the runtime read it at start; here only TuneGC's respect for it is tested
	debug.SetGCPercent(150)
	TuneGC()
	if got := debug.SetGCPercent(100); got != 150 {
		t.Fatalf("GOGC=150 set by the operator: TuneGC changed the GC percent to %d", got)
	}
}
