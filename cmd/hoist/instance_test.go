package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestInstanceCommandSpeaksTheFleetAPI: each verb sends its request with
// the bearer token, and an API refusal is printed with its reason and
// exits 1.
func TestInstanceCommandSpeaksTheFleetAPI(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+strings.TrimSpace(string(body)))
		if strings.Contains(string(body), `"name":"Bad"`) {
			w.WriteHeader(422)
			json.NewEncoder(w).Encode(map[string]string{"error": `instance name "Bad" must be a DNS label`})
			return
		}
		w.Write([]byte(`{"state":"launching"}`))
	}))
	defer srv.Close()
	common := []string{"--server", srv.URL, "--token", "t0k", "--repo", "acme/site"}
	for _, args := range [][]string{
		{"create", "shop", "--plan", "paid", "--settings", `{"colour":"#112233"}`},
		{"list"},
		{"get", "shop"},
		{"settings", "shop", "--set", `{"colour":"#445566"}`},
		{"settings", "shop", "--rollback", "1"},
		{"suspend", "shop", "--reason", "unpaid"},
		{"delete", "shop", "--confirm", "shop"},
	} {
		var out, errOut bytes.Buffer
		if code := instanceMain(context.Background(), append(args, common...), &out, &errOut); code != 0 {
			t.Fatalf("hoist instance %v: exit %d: %s", args, code, errOut.String())
		}
	}
	want := []string{
		`POST /api/fleets/acme/site/instances Bearer t0k {"name":"shop","plan":"paid","settings":{"colour":"#112233"}}`,
		`GET /api/fleets/acme/site/instances Bearer t0k `,
		`GET /api/fleets/acme/site/instances/shop Bearer t0k `,
		`PATCH /api/fleets/acme/site/instances/shop/settings Bearer t0k {"patch":{"colour":"#445566"}}`,
		`PATCH /api/fleets/acme/site/instances/shop/settings Bearer t0k {"rollback_to":1}`,
		`POST /api/fleets/acme/site/instances/shop/suspend Bearer t0k {"reason":"unpaid"}`,
		`DELETE /api/fleets/acme/site/instances/shop Bearer t0k `,
	}
	for i := range want {
		if i >= len(got) || strings.TrimSpace(got[i]) != strings.TrimSpace(want[i]) {
			t.Errorf("request %d: %q, want %q", i, got, want[i])
		}
	}
	var out, errOut bytes.Buffer
	if code := instanceMain(context.Background(), append([]string{"create", "Bad"}, common...), &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "must be a DNS label (HTTP 422)") {
		t.Fatalf("refusal: exit %d, stderr %q", code, errOut.String())
	}
}
