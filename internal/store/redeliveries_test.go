package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/store"
)

func TestRedeliveryClaimsSQLite(t *testing.T)   { redeliveryClaims(t, openSQLite(t)) }
func TestRedeliveryClaimsPostgres(t *testing.T) { redeliveryClaims(t, openPostgres(t)) }

// A GUID is claimed once; a claim given back or abandoned past its lease
// can be taken again, an asked one never; lookups say which deliveries
// and requests exist.
func redeliveryClaims(t *testing.T, s *store.Store) {
	ctx := context.Background()
	const lease = time.Minute
	claim := func(guid string, lease time.Duration) bool {
		t.Helper()
		ok, err := s.ClaimRedelivery(ctx, guid, 7, "push", lease)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim("g-1", lease) || claim("g-1", lease) {
		t.Fatal("a GUID was not claimed exactly once")
	}
	if err := s.ReleaseRedelivery(ctx, "g-1"); err != nil {
		t.Fatal(err)
	}
	if !claim("g-1", lease) {
		t.Fatal("a released claim was not taken again")
	}
	if err := s.RedeliveryAsked(ctx, "g-1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseRedelivery(ctx, "g-1"); err != nil {
		t.Fatal(err)
	}
	if claim("g-1", 0) {
		t.Fatal("an asked GUID was claimed again")
	}
	// An abandoned claim (its process died before asking) expires.
	if !claim("g-2", lease) {
		t.Fatal("g-2 not claimed")
	}
	time.Sleep(20 * time.Millisecond)
	if claim("g-2", lease) || !claim("g-2", 10*time.Millisecond) {
		t.Fatal("an abandoned claim was not taken over after its lease, or before")
	}
	got, err := s.RequestedRedeliveries(ctx, []string{"g-1", "g-2", "g-3"}, lease)
	if err != nil || !got["g-1"] || !got["g-2"] || got["g-3"] {
		t.Fatalf("requested = %v %v", got, err)
	}
	err = s.InTx(ctx, func(tx store.Tx) error {
		_, err := s.InsertDelivery(ctx, tx, store.Delivery{ID: "g-3", Event: "push", Payload: []byte(`{}`), Status: store.StatusHandled})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"g-3"}
	for i := 0; i < 1200; i++ { // more than one IN list
		ids = append(ids, "missing-"+time.Duration(i).String())
	}
	known, err := s.KnownDeliveries(ctx, ids)
	if err != nil || len(known) != 1 || !known["g-3"] {
		t.Fatalf("known = %v %v", known, err)
	}
	reqs, err := s.RedeliveryRequests(ctx)
	if err != nil || len(reqs) != 2 || !reqs[0].Asked || reqs[1].Asked || reqs[0].Event != "push" || reqs[0].AttemptID != 7 {
		t.Fatalf("requests = %+v %v", reqs, err)
	}
}
