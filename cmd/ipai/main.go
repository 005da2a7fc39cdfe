// Command ipai is the InsightPulse AI platform's own binary: the hub
// (ipai serve), the stack tools (ipai stack …) and the MCP servers (ipai mcp …).
// This package only parses flags and calls the internal packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "ipai:", ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "ipai:", err)
		os.Exit(1)
	}
}

// exitError ends the command with a given exit code (and an optional message)
// without cobra printing usage.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }
