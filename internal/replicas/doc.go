// Package replicas tests hoist serve as an organisation runs it: several
// replicas, each its own process, on one PostgreSQL database, behind a
// proxy that hands every webhook to all of them at once. It has no code of
// its own beyond this comment; see replicas_test.go.
package replicas
