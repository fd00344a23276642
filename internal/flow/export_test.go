package flow

import "time"

// SetClock replaces the clock of decisions and holds; call it before the
// service is attached to a server.
func SetClock(s *Service, now func() time.Time) { s.now = now }
