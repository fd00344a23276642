package emulator

// CheckRunState returns a copy of a check run as the emulator keeps it,
// including what GitHub's REST answers leave out (the output's images and
// the action buttons), so tests can see what a user would see.
func (s *Server) CheckRunState(id int64) (CheckRun, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.st.Repos {
		if cr := r.CheckRuns[id]; cr != nil {
			c := *cr
			c.Output.Images = append([]map[string]any(nil), cr.Output.Images...)
			c.Actions = append([]map[string]any(nil), cr.Actions...)
			c.Annotations = append([]map[string]any(nil), cr.Annotations...)
			return c, true
		}
	}
	return CheckRun{}, false
}
