package emulator

import (
	"encoding/json"
	"fmt"
	"time"
)

// Deliveries returns copies of every recorded webhook delivery, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, 0, len(s.st.Deliveries))
	for _, d := range s.st.Deliveries {
		out = append(out, *d)
	}
	return out
}

// WaitDelivery blocks until a finished delivery (sent, failed or dropped)
// matches, or timeout passes.
func (s *Server) WaitDelivery(timeout time.Duration, match func(Delivery) bool) (Delivery, error) {
	deadline := time.After(timeout)
	for {
		wake := s.hooks.wait()
		for _, d := range s.Deliveries() {
			if !d.Pending() && match(d) {
				return d, nil
			}
		}
		select {
		case <-wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return Delivery{}, fmt.Errorf("no matching webhook delivery within %s", timeout)
		}
	}
}

// InstallationToken issues an installation token directly (as the access
// token endpoint would), for tests and tools.
func (s *Server) InstallationToken(installationID int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Installations[installationID] == nil {
		return "", fmt.Errorf("no installation %d", installationID)
	}
	tok := newToken("ghs_")
	s.st.Tokens[tok] = &Token{InstallationID: installationID, ExpiresAt: s.now().Add(time.Hour)}
	return tok, nil
}

// Decode decodes a delivery's payload.
func (d Delivery) Decode(v any) error { return json.Unmarshal(d.Payload, v) }
