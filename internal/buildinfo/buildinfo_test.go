package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	rev := "59418c85847f2f1ba853e8e867f0df6bceaa5704"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "-buildmode", Value: "exe"}, {Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-12-06T00:07:23Z"}, {Key: "vcs.modified", Value: modified}}
	}
	for _, c := range []struct {
		name    string
		bi      *debug.BuildInfo
		want    Info
		wantStr string
	}{
		{"no build info", nil, Info{Version: "dev"}, "dev"},
		{"go run: devel, no vcs", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			Info{Version: "dev", Go: "go1.26.8"}, "dev (go1.26.8)"},
		{"go install @tag", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			Info{Version: "v1.2.0", Go: "go1.26.8"}, "v1.2.0 (go1.26.8)"},
		{"git checkout, clean", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261206000723-59418c85847f"}, Settings: vcs("false")},
			Info{Version: "v0.0.0-20261206000723-59418c85847f", Revision: rev, Time: "2026-12-06T00:07:23Z", Go: "go1.26.8"},
			"v0.0.0-20261206000723-59418c85847f (revision 59418c85847f, 2026-12-06T00:07:23Z, go1.26.8)"},
		{"git checkout, uncommitted changes", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261206000723-59418c85847f+dirty"}, Settings: vcs("true")},
			Info{Version: "v0.0.0-20261206000723-59418c85847f+dirty", Revision: rev, Time: "2026-12-06T00:07:23Z", Modified: true, Go: "go1.26.8"},
			"v0.0.0-20261206000723-59418c85847f+dirty (revision 59418c85847f, modified, 2026-12-06T00:07:23Z, go1.26.8)"},
		{"vcs but devel version", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			Info{Version: "dev+59418c85847f.dirty", Revision: rev, Time: "2026-12-06T00:07:23Z", Modified: true},
			"dev+59418c85847f.dirty (revision 59418c85847f, modified, 2026-12-06T00:07:23Z)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := From(c.bi)
			if got != c.want {
				t.Fatalf("From = %+v, want %+v", got, c.want)
			}
			if s := got.String(); s != c.wantStr {
				t.Fatalf("String = %q, want %q", s, c.wantStr)
			}
		})
	}
}

// A version stamped at link time names a build without VCS information; the
// toolchain's module version wins when there is one.
func TestStampWithoutVCS(t *testing.T) {
	old := Stamp
	t.Cleanup(func() { Stamp = old })
	Stamp = "v1.4.0-3-gabc1234"
	if got := From(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}).Version; got != Stamp {
		t.Fatalf("stamped devel build: %q", got)
	}
	if got := From(&debug.BuildInfo{Main: debug.Module{Version: "v1.5.0"}}).Version; got != "v1.5.0" {
		t.Fatalf("module version vs stamp: %q", got)
	}
}
