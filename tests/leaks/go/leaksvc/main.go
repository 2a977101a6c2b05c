// leaksvc: a Go service with labelled leaks and decoys, for the leak-engine scenario suite.
//
// Every scenario runs in its own goroutine from start-up, so one observation window
// judges them all. Leaks: a clients map never cleaned on disconnect, a broadcast
// buffer that only grows, an executions map that keeps failed entries, goroutines
// blocked forever. Decoys: an LRU with a max size, a preallocated ring buffer, a batch
// flushed every N items, a one-off warm-up allocation, a map that grows then is cleared,
// and decoys that fill slowly while they are watched: an LRU that reaches its cap ~32 s
// after start, a TTL cache (entries expire after 25 s), a map cleared every minute (first
// at 30 s) and a backlog buffer that grows and shrinks (triangle wave, 20 s period).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync"
	"time"
)

type Client struct {
	id   int
	send []byte
}

// Hub.register leaks: clients are added on connect and never removed on disconnect.
type Hub struct {
	mu      sync.Mutex
	clients map[int]*Client
}

func (h *Hub) register(id int) {
	h.mu.Lock()
	h.clients[id] = &Client{id: id, send: make([]byte, 2048)}
	h.mu.Unlock()
}

// Broadcaster.publish leaks: messages are appended and the buffer is never reset. The
// write goes through fmt.Fprintf: the site must still be publish, not fmt.
type Broadcaster struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Broadcaster) publish(msg []byte) {
	b.mu.Lock()
	fmt.Fprintf(&b.buf, "%s\n", msg)
	b.mu.Unlock()
}

// Executor.run leaks: successful executions are deleted, failed ones stay forever.
type Execution struct {
	id     int
	output []byte
}

type Executor struct {
	mu         sync.Mutex
	executions map[int]*Execution
}

func (e *Executor) run(id int) {
	e.mu.Lock()
	e.executions[id] = &Execution{id: id, output: make([]byte, 1536)}
	failed := id%3 == 0
	if !failed {
		delete(e.executions, id)
	}
	e.mu.Unlock()
}

// spawnBlocked leaks goroutines: each waits on a channel nobody ever writes.
func spawnBlocked(never chan struct{}) {
	go func() { <-never }()
}

// LRU.Put is bounded: it evicts the oldest key past maxSize.
type LRU struct {
	maxSize int
	items   map[int][]byte
	order   []int
}

func (l *LRU) Put(k int) {
	if len(l.items) >= l.maxSize {
		oldest := l.order[0]
		l.order = l.order[1:]
		delete(l.items, oldest)
	}
	l.items[k] = make([]byte, 1024)
	l.order = append(l.order, k)
}

// Ring.Push is bounded: preallocated, overwrites in place.
type Ring struct {
	slots [][]byte
	next  int
}

func (r *Ring) Push(msg []byte) {
	copy(r.slots[r.next], msg)
	r.next = (r.next + 1) % len(r.slots)
}

// Batcher.Add is bounded: flushed (dropped) every flushEvery items.
type Batcher struct {
	items      [][]byte
	flushEvery int
}

func (b *Batcher) Add(msg []byte) {
	b.items = append(b.items, append([]byte(nil), msg...))
	if len(b.items) >= b.flushEvery {
		b.items = nil
	}
}

// SlowLRU.Add is the LRU's slow twin: it fills while it is watched and then stays at its cap.
type SlowLRU struct {
	maxSize int
	items   map[int][]byte
	order   []int
}

func (l *SlowLRU) Add(k int) {
	if len(l.items) >= l.maxSize {
		delete(l.items, l.order[0])
		l.order = append([]int(nil), l.order[1:]...)
	}
	l.items[k] = make([]byte, 1024)
	l.order = append(l.order, k)
}

var minuteClears []float64

var warmupData [][]byte

// warmup allocates once at start-up and never again.
func warmup() {
	for i := 0; i < 2000; i++ {
		warmupData = append(warmupData, make([]byte, 1024))
	}
}

// SessionCache.fill grows and is cleared wholesale every clearEvery.
type SessionCache struct {
	items map[int][]byte
}

func (c *SessionCache) fill(k int) {
	c.items[k] = make([]byte, 1024)
}

// TTLCache.Set is bounded: entries older than ttl are swept on every set.
type TTLCache struct {
	ttl   time.Duration
	items map[int]ttlEntry
	order []int
}

type ttlEntry struct {
	at   time.Time
	data []byte
}

func (c *TTLCache) Set(k int, now time.Time) {
	c.items[k] = ttlEntry{at: now, data: make([]byte, 1024)}
	c.order = append(c.order, k)
	n := 0
	for n < len(c.order) && now.Sub(c.items[c.order[n]].at) > c.ttl {
		delete(c.items, c.order[n])
		n++
	}
	if n > 0 {
		c.order = append([]int(nil), c.order[n:]...)
	}
}

// MinuteMap.record grows and is cleared every minute (the first time 30 s after start).
type MinuteMap struct {
	items map[int][]byte
}

func (m *MinuteMap) record(k int) {
	m.items[k] = make([]byte, 1024)
}

// Backlog.push is bounded: a consumer drains it at a varying pace, so it grows and shrinks.
type Backlog struct {
	queue [][]byte
}

func (b *Backlog) push(target int) {
	if len(b.queue) < target {
		b.queue = append(b.queue, make([]byte, 2048))
	} else if len(b.queue) > target {
		b.queue = append([][]byte(nil), b.queue[len(b.queue)-target:]...)
	}
}

// every calls f by the clock, d apart on average: a Ticker drops the ticks a loaded machine
// misses, and a TTL cache's size (rate x TTL) would then follow the load, not its TTL.
func every(d time.Duration, f func(i int)) {
	go func() {
		t := time.NewTicker(d)
		start := time.Now()
		i := 0
		for range t.C {
			for due := int(time.Since(start) / d); i < due; i++ {
				f(i)
			}
		}
	}()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	rate := flag.Float64("rate", 1.0, "speed factor for all scenarios")
	leakEndpoint := flag.Bool("goroutineleak", false, "serve a stand-in for Go 1.26's /debug/pprof/goroutineleak")
	flag.Parse()
	if *leakEndpoint {
		serveGoroutineLeak()
	}
	// Sample every allocation so small, steady growth is visible in the heap profile.
	runtime.MemProfileRate = 1

	tick := time.Duration(float64(20*time.Millisecond) / *rate)
	hub := &Hub{clients: map[int]*Client{}}
	br := &Broadcaster{}
	ex := &Executor{executions: map[int]*Execution{}}
	never := make(chan struct{})
	lru := &LRU{maxSize: 300, items: map[int][]byte{}}
	ring := &Ring{slots: make([][]byte, 256)}
	for i := range ring.slots {
		ring.slots[i] = make([]byte, 512)
	}
	batch := &Batcher{flushEvery: 400}
	cache := &SessionCache{items: map[int][]byte{}}
	slowLRU := &SlowLRU{items: map[int][]byte{}}
	ttl := &TTLCache{ttl: time.Duration(float64(25*time.Second) / *rate), items: map[int]ttlEntry{}}
	minute := &MinuteMap{items: map[int][]byte{}}
	backlog := &Backlog{}
	start := time.Now()
	warmup()
	msg := bytes.Repeat([]byte("m"), 256)

	every(tick, func(i int) { hub.register(i) })
	every(tick, func(i int) { br.publish(msg) })
	every(tick/2, func(i int) { ex.run(i) })
	every(tick*5, func(i int) { spawnBlocked(never) })
	every(tick/2, func(i int) { lru.Put(i) })
	every(tick/2, func(i int) { ring.Push(msg) })
	every(tick/2, func(i int) { batch.Add(msg) })
	every(tick/2, func(i int) {
		cache.fill(i)
		if i%500 == 499 {
			cache.items = map[int][]byte{}
		}
	})
	// the slow LRU takes 1280 entries at 40/s: full ~32 s after start
	slowLRU.maxSize = 1280
	every(time.Duration(float64(25*time.Millisecond) / *rate), func(i int) { slowLRU.Add(i) })
	every(tick*2, func(i int) { ttl.Set(i, time.Now()) })
	every(tick, func(i int) {
		minute.record(i)
		el := time.Since(start).Seconds() * *rate
		if el >= 30 && int((el-30)/60) >= len(minuteClears) {
			minuteClears = append(minuteClears, el)
			minute.items = map[int][]byte{}
		}
	})
	every(tick*2, func(i int) {
		el := time.Since(start).Seconds() * *rate
		phase := el - 20*float64(int(el/20)) // 0..20 s: up for 10 s, down for 10 s
		level := phase
		if phase > 10 {
			level = 20 - phase
		}
		backlog.push(int(level * 60))
	})
	// Frequent GCs keep the in-use heap profile current.
	every(500*time.Millisecond, func(i int) { runtime.GC() })

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "listening on http://%s\n", ln.Addr())
	os.Stdout.Sync()
	log.Fatal(http.Serve(ln, nil))
}
