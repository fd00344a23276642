// Package e2e holds hoist's end-to-end tests: `hoist serve` as app.New
// assembles it, on SQLite, in front of the GitHub emulator, with real
// headless Chromium, a real S3-compatible server (versitygw) and real
// Varnish nodes, and `hoist demo --json` run as a process. The package has
// no code of its own beyond this comment; see the _test.go files.
package e2e
