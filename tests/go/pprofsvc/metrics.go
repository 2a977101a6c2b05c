package main

// A latency histogram whose p99 the tests control, and a Prometheus /metrics page for it.
//
//	/work             one request: waits for a connection of the main pool, holds it
//	                  for the current work time, records its latency
//	/latency?ms=N     set the work time of every later request (default 20 ms)
//	/load?rps=R&seconds=S  R requests per second for S seconds, in the background
//	/metrics          Prometheus text: pprofsvc_request_duration_seconds (histogram, by
//	                  path), process CPU and RSS, go_info, go_goroutines
//
// The exposition is written by hand (stdlib only, like the rest of this service); the
// workbench parses it with prometheus_client's parser, and a real Prometheus scrapes it.

import (
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	mu     sync.Mutex
	counts map[string][]uint64 // path -> per-bucket counts (not cumulative), +Inf last
	sums   map[string]float64
}

func newHistogram() *histogram {
	return &histogram{counts: map[string][]uint64{}, sums: map[string]float64{}}
}

func (h *histogram) observe(path string, seconds float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.counts[path]
	if !ok {
		c = make([]uint64, len(latencyBuckets)+1)
		h.counts[path] = c
	}
	i := sort.SearchFloat64s(latencyBuckets, seconds) // first bucket with le >= seconds
	c[i]++
	h.sums[path] += seconds
}

func (h *histogram) write(b *strings.Builder, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(b, "# HELP %s Request latency, pool wait included.\n# TYPE %s histogram\n", name, name)
	paths := make([]string, 0, len(h.counts))
	for p := range h.counts {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		var cum uint64
		for i, n := range h.counts[p] {
			cum += n
			le := "+Inf"
			if i < len(latencyBuckets) {
				le = strconv.FormatFloat(latencyBuckets[i], 'g', -1, 64)
			}
			fmt.Fprintf(b, "%s_bucket{path=%q,le=%q} %d\n", name, p, le, cum)
		}
		fmt.Fprintf(b, "%s_sum{path=%q} %g\n%s_count{path=%q} %d\n", name, p, h.sums[p], name, p, cum)
	}
}

var (
	requests = newHistogram()
	workMs   atomic.Int64
)

func doWork(db *sql.DB, path string) {
	start := time.Now()
	if db != nil {
		// the pool is small on purpose: under load requests queue for a connection
		if _, err := db.Exec(fmt.Sprintf("SLEEP %d", workMs.Load())); err != nil {
			return
		}
	} else {
		time.Sleep(time.Duration(workMs.Load()) * time.Millisecond)
	}
	requests.observe(path, time.Since(start).Seconds())
}

func rssBytes() float64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize())
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func serveMetrics(w http.ResponseWriter, _ *http.Request) {
	var b strings.Builder
	requests.write(&b, "pprofsvc_request_duration_seconds")
	fmt.Fprintf(&b, "# TYPE go_info gauge\ngo_info{version=%q} 1\n", runtime.Version())
	fmt.Fprintf(&b, "# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintf(&b, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %g\n", cpuSeconds())
	fmt.Fprintf(&b, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %g\n", rssBytes())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprint(w, b.String())
}

// registerLatency adds the latency endpoints to mux; db is the pool requests wait for.
func registerLatency(mux *http.ServeMux, db *sql.DB) {
	workMs.Store(20)
	mux.HandleFunc("/metrics", serveMetrics)
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		doWork(db, "/work")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/latency", func(w http.ResponseWriter, r *http.Request) {
		workMs.Store(int64(intParam(r, "ms", 20, 60000)))
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/load", func(w http.ResponseWriter, r *http.Request) {
		rps := intParam(r, "rps", 20, 10000)
		seconds := intParam(r, "seconds", 10, 3600)
		go func() {
			tick := time.NewTicker(time.Duration(float64(time.Second) / math.Max(1, float64(rps))))
			defer tick.Stop()
			end := time.Now().Add(time.Duration(seconds) * time.Second)
			for now := range tick.C {
				if now.After(end) {
					return
				}
				go doWork(db, "/load")
			}
		}()
		fmt.Fprintln(w, "ok")
	})
}
