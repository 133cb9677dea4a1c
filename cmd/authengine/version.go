package main

import (
	"fmt"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// version and commit may be set at build time (make build does):
//
//	-ldflags "-X main.version=v1.2.0 -X main.commit=0123abc"
//
// Left empty, they come from the module and VCS information the Go
// toolchain records in the binary (debug.ReadBuildInfo).
var (
	version string
	commit  string
)

// buildVersion returns the version and commit of this binary, "unknown"
// for what neither -ldflags nor the build information tells.
func buildVersion() (ver, rev string, modified bool) {
	ver, rev = version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if ver == "" && info.Main.Version != "" {
			ver = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if ver == "" {
		ver = "unknown"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev, modified
}

// versionString is what `authengine version` prints.
func versionString() string {
	ver, rev, modified := buildVersion()
	if modified {
		rev += " (modified)"
	}
	info, _ := debug.ReadBuildInfo()
	goVersion := "unknown"
	if info != nil {
		goVersion = info.GoVersion
	}
	return fmt.Sprintf("authengine %s commit %s %s", ver, rev, goVersion)
}

// displayVersion is the version alone, for the start line.
func displayVersion() string {
	ver, _, _ := buildVersion()
	return ver
}

// buildInfoCollector is authengine_build_info{version,commit,goversion} 1,
// so that dashboards can tell which build each instance runs.
func buildInfoCollector() prometheus.Collector {
	ver, rev, _ := buildVersion()
	goVersion := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		goVersion = info.GoVersion
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "authengine_build_info",
		Help: "Always 1; the labels name the version, commit and Go version of this binary.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(ver, rev, goVersion).Set(1)
	return g
}
