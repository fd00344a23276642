package gh

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gregjones/httpcache"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// DefaultCacheBytes is the default bound on the response cache's memory.
const DefaultCacheBytes = 32 << 20

// responseCache holds the GitHub responses whose ETags hoist sends back as
// If-None-Match: a 304 does not count against the rate limit, and the body
// then comes from here. One cache, bounded in bytes, serves all clients;
// each client sees it through its own key prefix (scope), so that one
// installation's answers are never served to another whatever Vary
// headers the server sends.
type responseCache struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, []byte]
	bytes    int64
	maxBytes int64
	scopes   atomic.Int64
}

func newResponseCache(maxBytes int64) *responseCache {
	c := &responseCache{maxBytes: maxBytes}
	// The bound is in bytes, checked in set; the entry count only has to
	// be larger than any count that fits.
	c.lru, _ = simplelru.NewLRU[string, []byte](1<<30, func(_ string, v []byte) {
		c.bytes -= int64(len(v))
	})
	return c
}

// scope returns a view of the cache for one new client. go-githubapp asks
// for a cache once per client it creates, and creates one client per
// installation (or user token), so the scope is per installation.
func (c *responseCache) scope() httpcache.Cache {
	return scopedCache{c: c, prefix: strconv.FormatInt(c.scopes.Add(1), 10) + " "}
}

func (c *responseCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Get(key)
}

func (c *responseCache) set(key string, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(key)
	if int64(len(v)) > c.maxBytes/8 {
		// One large answer (a big file's contents) would push out many
		// small ones that are read far more often.
		return
	}
	c.lru.Add(key, v)
	c.bytes += int64(len(v))
	for c.bytes > c.maxBytes {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}

func (c *responseCache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(key)
}

// size reports the entries and bytes held, for tests.
func (c *responseCache) size() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}

type scopedCache struct {
	c      *responseCache
	prefix string
}

func (s scopedCache) Get(key string) ([]byte, bool) { return s.c.get(s.prefix + key) }
func (s scopedCache) Set(key string, v []byte)      { s.c.set(s.prefix+key, v) }
func (s scopedCache) Delete(key string)             { s.c.remove(s.prefix + key) }
