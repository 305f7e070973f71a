// Package distconsts stands in for github.com/dagger/dagger/engine/distconsts.
//
// Why this exists: dagger's root module replaces distconsts with a local
// directory, and the Go module proxy reachable from this project's CI serves
// no tagged or pseudo version of the nested distconsts module for the
// pinned release, so
// the engine cannot be built from published modules without a stand-in.
// These are the identifiers the engine, CLI and init binaries reference; the
// path values are the ones the engine's runtime layout requires (dagger
// v0.19.10, engine/distconsts/consts.go, https://github.com/dagger/dagger). The image
// names are only used for `dagger terminal` defaults and dagger's own tests,
// neither of which this project uses offline.
package distconsts

const (
	EngineContainerName = "dagger-engine.dev"

	DefaultEngineSockAddr = "unix:///run/dagger/engine.sock"

	EngineDefaultStateDir = "/var/lib/dagger"

	// Upstream's engine image uses /usr/local/share/ca-certificates, which is empty there.
	// Run on a host, that directory holds the host's own CAs, and the engine would run
	// update-ca-certificates on the host and inject them into every container. A
	// dagger-specific directory keeps the engine's behaviour as upstream's: no implicit CAs.
	EngineCustomCACertsDir = "/etc/dagger/ca-certificates"

	EngineContainerBuiltinContentDir = "/usr/local/share/dagger/content"

	GoSDKManifestDigestEnvName         = "DAGGER_GO_SDK_MANIFEST_DIGEST"
	PythonSDKManifestDigestEnvName     = "DAGGER_PYTHON_SDK_MANIFEST_DIGEST"
	TypescriptSDKManifestDigestEnvName = "DAGGER_TYPESCRIPT_SDK_MANIFEST_DIGEST"

	OCIVersionAnnotation = "org.opencontainers.image.version"

	RuncPath       = "/usr/local/bin/runc"
	DaggerInitPath = "/usr/local/bin/dagger-init"
)

const (
	AlpineVersion = "3.22.1"
	AlpineImage   = "alpine:" + AlpineVersion

	GolangVersion = "1.26.1"
	GolangImage   = "golang:" + GolangVersion + "-alpine"

	BusyboxVersion = "1.37.0"
	BusyboxImage   = "busybox:" + BusyboxVersion
)
