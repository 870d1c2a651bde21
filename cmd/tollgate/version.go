package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildInfo is what `tollgate version` reports.
type buildInfo struct {
	Version, Commit, Date string
}

// currentBuild resolves the build information of this binary.
func currentBuild() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return resolveBuild(version, commit, date, bi)
}

// resolveBuild prefers what the release build stamped with -ldflags -X and fills
// the rest from the Go toolchain's own record: `go install …/cmd/tollgate@v1.2.3`
// knows its module version, and a build inside a git checkout knows its revision,
// so the installer's source builds report something true as well.
func resolveBuild(v, c, d string, bi *debug.BuildInfo) buildInfo {
	out := buildInfo{Version: v, Commit: c, Date: d}
	if bi == nil {
		return out
	}
	if out.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		out.Version = bi.Main.Version
	}
	var revision, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		case "vcs.time":
			if out.Date == "unknown" {
				out.Date = s.Value
			}
		}
	}
	if out.Commit == "none" && revision != "" {
		if len(revision) > 12 {
			revision = revision[:12]
		}
		if modified == "true" {
			revision += "-dirty"
		}
		out.Commit = revision
	}
	return out
}

// String is the one line `tollgate version` prints.
func (b buildInfo) String() string {
	return fmt.Sprintf("tollgate %s (commit %s, built %s, %s %s/%s)", b.Version, b.Commit, b.Date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// printVersion runs `tollgate version`.
func printVersion(w io.Writer) {
	fmt.Fprintln(w, currentBuild())
}
