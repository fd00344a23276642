package server

import (
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
)

// Config is the configuration the server was started with, for the
// services wired into it (read only).
func (s *Server) Config() *serverconfig.Server { return s.cfg }

// Logger is the server's logger, for services wired into it.
func (s *Server) Logger() *zerolog.Logger { return &s.log }
