package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// memTarget is an in-memory Target that records every operation with the
// logical time it started and ended, so tests can check ordering.
type memTarget struct {
	mu      sync.Mutex
	objects map[string]memObject
	clock   atomic.Int64
	ops     []memOp
}

type memObject struct {
	data []byte
	opts PutOptions
}

type memOp struct {
	kind       string // put, copy, delete, list, get, head
	key        string
	start, end int64
}

func newMemTarget() *memTarget { return &memTarget{objects: map[string]memObject{}} }

func (m *memTarget) String() string { return "mem://" }

func (m *memTarget) record(kind, key string, start int64) {
	end := m.clock.Add(1)
	m.mu.Lock()
	m.ops = append(m.ops, memOp{kind, key, start, end})
	m.mu.Unlock()
}

func (m *memTarget) Put(ctx context.Context, key string, body io.Reader, o PutOptions) error {
	start := m.clock.Add(1)
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if int64(len(data)) != o.Size {
		return fmt.Errorf("put %s: %d bytes, declared %d", key, len(data), o.Size)
	}
	m.mu.Lock()
	m.objects[key] = memObject{data, o}
	m.mu.Unlock()
	m.record("put", key, start)
	return nil
}

func (m *memTarget) Copy(ctx context.Context, src, dst string, o PutOptions) error {
	start := m.clock.Add(1)
	m.mu.Lock()
	obj, ok := m.objects[src]
	if ok {
		o.Size = int64(len(obj.data))
		m.objects[dst] = memObject{obj.data, o}
	}
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("copy %s: %w", src, ErrNotFound)
	}
	m.record("copy", dst, start)
	return nil
}

func (m *memTarget) Delete(ctx context.Context, keys []string) (int, error) {
	start := m.clock.Add(1)
	m.mu.Lock()
	for _, k := range keys {
		delete(m.objects, k)
	}
	m.mu.Unlock()
	for _, k := range keys {
		m.record("delete", k, start)
	}
	return (len(keys) + 999) / 1000, nil
}

func (m *memTarget) List(ctx context.Context, prefix string, fn func([]Object) error) error {
	m.mu.Lock()
	var objs []Object
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			objs = append(objs, Object{Key: k, Size: int64(len(o.data)), ETag: md5Hex(o.data)})
		}
	}
	m.mu.Unlock()
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	m.record("list", prefix, m.clock.Add(1))
	return fn(objs)
}

func (m *memTarget) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	m.record("get", key, m.clock.Add(1))
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return nil, ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

func (m *memTarget) Head(ctx context.Context, key string) (ObjectMeta, error) {
	m.record("head", key, m.clock.Add(1))
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return ObjectMeta{}, ErrNotFound
	}
	return ObjectMeta{Size: int64(len(o.data)), Metadata: o.opts.Metadata}, nil
}

func (m *memTarget) writes() []memOp {
	m.mu.Lock()
	defer m.mu.Unlock()
	var w []memOp
	for _, op := range m.ops {
		if op.kind == "put" || op.kind == "copy" || op.kind == "delete" {
			w = append(w, op)
		}
	}
	return w
}

func (m *memTarget) reset() {
	m.mu.Lock()
	m.ops = nil
	m.mu.Unlock()
}
