package containers

import "time"

// cache maps keys to values for ttl after each put. Its keys must change
// when what they name is reused (a cgroup id with its name, a pid with its
// start time), so that an entry is never served for a newcomer.
type cache[K comparable, V any] struct {
	ttl     time.Duration
	now     func() time.Time
	entries map[K]cached[V]
}

type cached[V any] struct {
	v       V
	expires time.Time
}

func newCache[K comparable, V any](ttl time.Duration, now func() time.Time) *cache[K, V] {
	if now == nil {
		now = time.Now
	}
	return &cache[K, V]{ttl: ttl, now: now, entries: map[K]cached[V]{}}
}

// get returns k's value, unless it has expired.
func (c *cache[K, V]) get(k K) (V, bool) {
	e, ok := c.entries[k]
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *cache[K, V]) put(k K, v V) {
	c.entries[k] = cached[V]{v: v, expires: c.now().Add(c.ttl)}
}

// forget drops k's entry at once: what k names is gone for good.
func (c *cache[K, V]) forget(k K) { delete(c.entries, k) }

// sweep drops the expired entries, so that the cache holds only what was
// put within ttl.
func (c *cache[K, V]) sweep() {
	now := c.now()
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
}

func (c *cache[K, V]) len() int { return len(c.entries) }
