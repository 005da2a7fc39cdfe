package connector

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a dotted major.minor.patch version.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less reports whether v sorts before w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// ParseVersion reads the first up to three dot-separated numbers of s,
// tolerating a "v" prefix, a "saas~" prefix and suffixes ("7.10.0-rc1",
// Mattermost's "9.11.1.9.11.1.hash.false"). At least the major number is needed.
func ParseVersion(s string) (Version, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "v")
	t = strings.TrimPrefix(t, "saas~")
	parts := strings.SplitN(t, ".", 4)
	var nums [3]int
	n := 0
	for i := 0; i < len(parts) && i < 3; i++ {
		p := parts[i]
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		v, err := strconv.Atoi(p[:end])
		if err != nil {
			break
		}
		nums[i] = v
		n++
		if end < len(p) {
			break
		}
	}
	if n == 0 {
		return Version{}, Malformed("cannot read a version from %q", s)
	}
	return Version{nums[0], nums[1], nums[2]}, nil
}

// MustVersion parses a version literal; for package-level minimums.
func MustVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}
