package web

import (
	"reflect"
	"testing"
	"time"
)

func TestMarkdownImages(t *testing.T) {
	md := "| page | shot |\n|---|---|\n" +
		"| / | ![/ (desktop)](https://hoist.example/artifacts/a.png \"home\") |\n" +
		"| /x | ![](<https://hoist.example/artifacts/b.png>) |\n" +
		`<img alt="mobile" src="https://cdn.example/c.png?x=1&amp;y=2" width="200">` + "\n" +
		"![again](https://hoist.example/artifacts/a.png)\n" + // the same image once
		"![script](javascript:alert(1)) ![relative](/artifacts/d.png) ![data](data:image/png;base64,AAAA)\n"
	got := markdownImages(md)
	want := []Image{
		{Alt: "/ (desktop)", URL: "https://hoist.example/artifacts/a.png", Caption: "home"},
		{Alt: "", URL: "https://hoist.example/artifacts/b.png"},
		{Alt: "mobile", URL: "https://cdn.example/c.png?x=1&y=2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("markdownImages:\n got %+v\nwant %+v", got, want)
	}
}

func TestWhyAndOutcome(t *testing.T) {
	if got := why(map[string]any{"reasons": []any{"a", "", "b"}, "error": "ignored"}); got != "a; b" {
		t.Errorf("why(reasons) = %q", got)
	}
	if got := why(map[string]any{"error": "no workflow"}); got != "no workflow" {
		t.Errorf("why(error) = %q", got)
	}
	long := make([]rune, 400)
	for i := range long {
		long[i] = 'é'
	}
	if got := []rune(why(map[string]any{"reason": string(long)})); len(got) != 300 || got[299] != '…' {
		t.Errorf("why(long) is %d runes", len(got))
	}
	for o, c := range map[string]string{"promoted": "ok", "refuse": "bad", "failure": "bad", "in_progress": "wait", "skipped": "neutral"} {
		if got := outcomeClass(o); got != c {
			t.Errorf("outcomeClass(%s) = %s, want %s", o, got, c)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{10 * time.Second: "just now", 5 * time.Minute: "5 min ago",
		3 * time.Hour: "3 h ago", 72 * time.Hour: "3 days ago"} {
		if got := ago(now, now.Add(-d)); got != want {
			t.Errorf("ago(%s) = %q, want %q", d, got, want)
		}
	}
	if ago(now, time.Time{}) != "" {
		t.Error("ago(zero) is not empty")
	}
}
