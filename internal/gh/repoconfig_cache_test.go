package gh

import (
	"fmt"
	"testing"
)

func TestConfigCacheIsBounded(t *testing.T) {
	c := newLRU(3)
	for i := range 10 {
		c.put(fmt.Sprint(i), i)
		if c.len() > 3 {
			t.Fatalf("after %d puts the cache holds %d entries, want at most 3", i+1, c.len())
		}
	}
	for _, k := range []string{"0", "6"} {
		if _, ok := c.get(k); ok {
			t.Errorf("%s is still cached; the oldest entries should go", k)
		}
	}
	for _, k := range []string{"7", "8", "9"} {
		if v, ok := c.get(k); !ok || v != mustAtoi(k) {
			t.Errorf("%s = %v, %v; want the newest entries kept", k, v, ok)
		}
	}
}

func TestConfigCacheForgetsTheLeastRecentlyUsed(t *testing.T) {
	c := newLRU(2)
	c.put("a", 1)
	c.put("b", 2)
	c.get("a") // a is used again: b is now the least recent
	c.put("c", 3)
	if _, ok := c.get("b"); ok {
		t.Error("b survived though it was the least recently used")
	}
	if _, ok := c.get("a"); !ok {
		t.Error("a was forgotten though it was used last")
	}
	c.put("a", 10) // replacing keeps one entry
	if v, _ := c.get("a"); v != 10 || c.len() != 2 {
		t.Errorf("a = %v with %d entries, want 10 with 2", v, c.len())
	}
	c.remove("a")
	if _, ok := c.get("a"); ok || c.len() != 1 {
		t.Errorf("a still cached after remove (%d entries)", c.len())
	}
}

func TestNewConfigLoaderDefaultsItsBound(t *testing.T) {
	if l := NewConfigLoader(0); l.cache.max != DefaultConfigCacheSize {
		t.Errorf("bound = %d, want %d", l.cache.max, DefaultConfigCacheSize)
	}
	if l := NewConfigLoader(7); l.cache.max != 7 {
		t.Errorf("bound = %d, want 7", l.cache.max)
	}
}

func mustAtoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}
