package checks

import (
	"strings"
	"testing"
)

func TestRequestsPrivateImages(t *testing.T) {
	o := Output{Title: "Smoke", Summary: "ok", Images: []Image{{Alt: "home", ImageURL: "http://127.0.0.1:8080/artifacts/a.png", Caption: "/"}}}
	if _, err := o.Requests(""); err == nil {
		t.Fatal("Requests accepted a loopback image URL")
	}
	reqs, err := o.RequestsPrivateImages("")
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || len(reqs[0].Images) != 1 || reqs[0].Images[0].GetImageURL() != o.Images[0].ImageURL {
		t.Fatalf("images not kept: %+v", reqs)
	}
	for _, bad := range []Output{
		{Title: "Smoke", Summary: "ok", Images: []Image{{Alt: "home", ImageURL: "/artifacts/a.png"}}},
		{Title: "Smoke", Summary: "ok", Images: []Image{{ImageURL: "http://127.0.0.1/a.png"}}},
		{Title: "", Summary: "ok"},
	} {
		if _, err := bad.RequestsPrivateImages(""); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	big := Output{Title: "Smoke", Summary: strings.Repeat("x", MaxSummaryBytes+10)}
	reqs, err = big.RequestsPrivateImages("https://hoist.example/r")
	if err != nil || len(reqs[0].GetSummary()) > MaxSummaryBytes {
		t.Fatalf("not truncated: %v", err)
	}
}
