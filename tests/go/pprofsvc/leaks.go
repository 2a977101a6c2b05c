package main

// The -leak mode: what a service that leaks looks like to the leak engine and the GUI's
// journey tests. A clients map that is never cleaned (Hub.register), an audit buffer that
// only grows (AuditLog.write) and goroutines blocked forever (leakBlocked), all from
// start-up, next to a bounded decoy (a ring buffer overwritten in place) that must not be
// flagged. Allocation sampling is every allocation, and a GC runs every 500 ms, so the
// in-use heap profile follows the growth closely.

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"time"
)

type leakClient struct {
	id   int
	send []byte
}

// Hub.register leaks: clients are added on connect and never removed on disconnect.
type Hub struct {
	mu      sync.Mutex
	clients map[int]*leakClient
}

//go:noinline
func (h *Hub) register(id int) {
	h.mu.Lock()
	h.clients[id] = &leakClient{id: id, send: make([]byte, 2048)}
	h.mu.Unlock()
}

// AuditLog.write leaks: every request is appended and the buffer is never rotated. It
// writes through fmt.Fprintf, as services do: the leak engine must name AuditLog.write,
// not the fmt and bytes frames the write goes through.
type AuditLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

//go:noinline
func (a *AuditLog) write(line []byte) {
	a.mu.Lock()
	fmt.Fprintf(&a.buf, "%d %s\n", len(line), line)
	a.mu.Unlock()
}

// leakBlocked leaks goroutines: each waits on a channel nobody ever writes.
//
//go:noinline
func leakBlocked(never chan struct{}) {
	go func() { <-never }()
}

// leakRing is the decoy: preallocated, overwritten in place, bounded.
type leakRing struct {
	slots [][]byte
	next  int
}

//go:noinline
func (r *leakRing) push(msg []byte) {
	copy(r.slots[r.next], msg)
	r.next = (r.next + 1) % len(r.slots)
}

func leakEvery(d time.Duration, f func(i int)) {
	go func() {
		t := time.NewTicker(d)
		for i := 0; ; i++ {
			<-t.C
			f(i)
		}
	}()
}

// startLeaks runs every scenario from now on; called before the service listens.
func startLeaks() {
	runtime.MemProfileRate = 1
	tick := 20 * time.Millisecond
	hub := &Hub{clients: map[int]*leakClient{}}
	audit := &AuditLog{}
	never := make(chan struct{})
	ring := &leakRing{slots: make([][]byte, 256)}
	for i := range ring.slots {
		ring.slots[i] = make([]byte, 512)
	}
	line := bytes.Repeat([]byte("a"), 256)
	leakEvery(tick, func(i int) { hub.register(i) })
	leakEvery(tick, func(i int) { audit.write(line) })
	leakEvery(tick*5, func(i int) { leakBlocked(never) })
	leakEvery(tick/2, func(i int) { ring.push(line) })
	leakEvery(500*time.Millisecond, func(i int) { runtime.GC() })
}
