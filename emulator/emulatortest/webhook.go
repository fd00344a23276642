package emulatortest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// WebhookRef names one documented webhook payload.
type WebhookRef struct {
	Event  string // X-GitHub-Event, e.g. "check_run"
	Action string // payload "action", e.g. "requested_action"; "" for push, create
	Schema string // component schema name, e.g. "webhook-check-run-requested-action"
}

type webhook struct {
	ref    WebhookRef
	schema *openapi3.Schema
}

// userDefinedActions are events whose action is chosen by the sender
// (repository_dispatch's event_type); GitHub documents one sample schema
// that fits them all.
var userDefinedActions = map[string]bool{"repository_dispatch": true}

// indexWebhooks reads the x-webhooks section. kin-openapi keeps it as raw
// decoded JSON among the document's extensions, so the request-body schema
// reference is followed by hand to the already loaded components.
func indexWebhooks(doc *openapi3.T) (map[string]webhook, error) {
	raw, ok := doc.Extensions["x-webhooks"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("description has no x-webhooks section")
	}
	out := make(map[string]webhook, len(raw))
	for key, entry := range raw {
		opID, _ := dig(entry, "post", "operationId").(string)
		ref, _ := dig(entry, "post", "requestBody", "content", "application/json", "schema", "$ref").(string)
		if opID == "" || ref == "" {
			return nil, fmt.Errorf("x-webhooks %s: no post operationId or application/json schema $ref", key)
		}
		const prefix = "#/components/schemas/"
		name, found := strings.CutPrefix(ref, prefix)
		if !found {
			return nil, fmt.Errorf("x-webhooks %s: schema reference %q is not under %s", key, ref, prefix)
		}
		sr := doc.Components.Schemas[name]
		if sr == nil || sr.Value == nil {
			return nil, fmt.Errorf("x-webhooks %s: schema %s not found in components", key, name)
		}
		event, action, _ := strings.Cut(opID, "/")
		out[opID] = webhook{
			ref: WebhookRef{
				Event:  strings.ReplaceAll(event, "-", "_"),
				Action: strings.ReplaceAll(action, "-", "_"),
				Schema: name,
			},
			schema: sr.Value,
		}
	}
	return out, nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func (s *Spec) webhook(event, action string) (webhook, bool) {
	id := strings.ReplaceAll(event, "_", "-")
	if action != "" {
		id += "/" + strings.ReplaceAll(action, "_", "-")
	}
	if w, ok := s.webhooks[id]; ok {
		return w, true
	}
	if userDefinedActions[event] {
		for _, w := range s.webhooks {
			if w.ref.Event == event {
				return w, true
			}
		}
	}
	return webhook{}, false
}

// WebhookSchema returns the component schema name GitHub documents for the
// payload of event (X-GitHub-Event) with action.
func (s *Spec) WebhookSchema(event, action string) (schemaName string, ok bool) {
	w, ok := s.webhook(event, action)
	return w.ref.Schema, ok
}

// Webhooks lists every documented webhook payload, sorted by event and action.
func (s *Spec) Webhooks() []WebhookRef {
	out := make([]WebhookRef, 0, len(s.webhooks))
	for _, w := range s.webhooks {
		out = append(out, w.ref)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Event != out[j].Event {
			return out[i].Event < out[j].Event
		}
		return out[i].Action < out[j].Action
	})
	return out
}

// CheckWebhook reports whether payload matches GitHub's schema for event
// (the X-GitHub-Event value) and action. An empty action is taken from the
// payload's "action" field when it has one (push and create have none).
func (s *Spec) CheckWebhook(event, action string, payload []byte) error {
	var value any
	if err := json.Unmarshal(payload, &value); err != nil {
		return fmt.Errorf("webhook %s: payload is not JSON: %w", eventName(event, action), err)
	}
	if action == "" {
		action, _ = dig(value, "action").(string)
	}
	name := eventName(event, action)
	w, ok := s.webhook(event, action)
	if !ok {
		return fmt.Errorf("webhook %s: GitHub documents no such payload (documented for %s: %s)", name, event, s.actionsOf(event))
	}
	if err := visit(w.schema, value); err != nil {
		return fmt.Errorf("webhook %s: payload does not match schema %s:%s", name, w.ref.Schema, err)
	}
	return nil
}

func eventName(event, action string) string {
	if action == "" {
		return event
	}
	return event + "." + action
}

func (s *Spec) actionsOf(event string) string {
	var actions []string
	for _, w := range s.webhooks {
		if w.ref.Event == event {
			a := w.ref.Action
			if a == "" {
				a = "(no action)"
			}
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		return "nothing: unknown event"
	}
	sort.Strings(actions)
	return strings.Join(actions, ", ")
}
