package jobs

import (
	"context"
	"fmt"
	"sort"

	"github.com/palantir/go-githubapp/githubapp"
)

// Router is the event handlers, matched to their events once: the first
// handler listing an event handles it. The webhook intake (which records a
// delivery as handled or ignored) and the delivery worker (which runs its
// handler later, maybe after a restart) both route through the same
// Router, so they cannot disagree about who handles an event.
type Router struct {
	byEvent map[string]githubapp.EventHandler
	events  []string
}

var _ githubapp.EventHandler = (*Router)(nil)

// NewRouter matches every event the handlers list to its handler.
func NewRouter(handlers []githubapp.EventHandler) *Router {
	r := &Router{byEvent: map[string]githubapp.EventHandler{}}
	for _, h := range handlers {
		for _, ev := range h.Handles() {
			if _, taken := r.byEvent[ev]; !taken {
				r.byEvent[ev] = h
				r.events = append(r.events, ev)
			}
		}
	}
	sort.Strings(r.events)
	return r
}

// Handles lists every event some handler takes.
func (r *Router) Handles() []string { return r.events }

// Handler is the handler of event.
func (r *Router) Handler(event string) (githubapp.EventHandler, bool) {
	h, ok := r.byEvent[event]
	return h, ok
}

// Handle runs the handler of eventType.
func (r *Router) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	h, ok := r.byEvent[eventType]
	if !ok {
		return fmt.Errorf("no handler for event %s", eventType)
	}
	return h.Handle(ctx, eventType, deliveryID, payload)
}
