package server_test

import "github.com/hoist-dev/hoist/internal/server"

func serverOptionsNone() server.Options { return server.Options{} }
