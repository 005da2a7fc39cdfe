// Package buildinfo says which build of ipai is running, from the build
// information the Go toolchain embeds in every binary: the main module's
// version (a tag or pseudo-version when built from a module or, since Go
// 1.24, from a git checkout) and the version-control settings (revision,
// commit time, uncommitted changes) that `go build -buildvcs` records.
//
// A binary built without either (go run, -buildvcs=false, a git worktree,
// a source tree without .git) reports the version "dev".
package buildinfo

import (
	"runtime/debug"
	"strings"
	"sync"
)

// Info is what a build says about itself.
type Info struct {
	// Version is one token usable in a User-Agent or a release name: the
	// main module's version, or "dev" (with "+<revision>[.dirty]" when only
	// the revision is known).
	Version string `json:"version"`
	// Revision is the VCS commit the binary was built from ("" if unknown);
	// Time is that commit's time (RFC 3339); Modified means the tree had
	// uncommitted changes.
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// Go is the toolchain that built the binary.
	Go string `json:"go,omitempty"`
}

// Stamp is a version set at link time for builds that carry no VCS
// information (a Docker build context without .git):
//
//	go build -ldflags "-X github.com/insightpulseai/ipai/internal/buildinfo.Stamp=$(git describe --always --dirty)"
//
// The module version or VCS revision recorded by the toolchain wins over it.
var Stamp string

// From reads an Info from build information (nil: nothing known).
func From(bi *debug.BuildInfo) Info {
	in := Info{Version: "dev"}
	if Stamp != "" {
		in.Version = Stamp
	}
	if bi == nil {
		return in
	}
	in.Go = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	switch v := bi.Main.Version; {
	case v != "" && v != "(devel)":
		in.Version = v
	case in.Revision != "":
		in.Version = "dev+" + short(in.Revision)
		if in.Modified {
			in.Version += ".dirty"
		}
	}
	return in
}

var current = sync.OnceValue(func() Info {
	bi, _ := debug.ReadBuildInfo()
	return From(bi)
})

// Current is the running binary's Info.
func Current() Info { return current() }

// String is the one-line description `ipai version` prints, e.g.
// "v1.2.0 (revision 0123456789ab, modified, 2026-12-06T00:07:23Z, go1.26.8)".
func (in Info) String() string {
	var extra []string
	if in.Revision != "" {
		extra = append(extra, "revision "+short(in.Revision))
	}
	if in.Modified {
		extra = append(extra, "modified")
	}
	if in.Time != "" {
		extra = append(extra, in.Time)
	}
	if in.Go != "" {
		extra = append(extra, in.Go)
	}
	if len(extra) == 0 {
		return in.Version
	}
	return in.Version + " (" + strings.Join(extra, ", ") + ")"
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
