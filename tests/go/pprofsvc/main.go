// pprofsvc: a small stdlib-only Go service the workbench's pprof-fetch tests run for real.
//
// It serves net/http/pprof and expvar (with sql.DBStats of two database/sql pools, one of
// them nested), plus endpoints that make the runtime do things a profiler should see:
//
//	/burn?ms=N        burn CPU in main.hotspotBurn for N ms (in the background)
//	/spawn?n=N        start N goroutines that park until /release
//	/release          let every parked goroutine return
//	/dbload?n=N&hold_ms=M   N concurrent queries each holding a connection M ms
//	/dbload?rps=R&hold_ms=M&seconds=S   R queries per second for S seconds (steady load)
//	/query?hold_ms=M  one query in the handler itself: it queues for a connection of the pool
//	/handlers?n=N&hold_ms=M&seconds=S  N clients call /query back to back for S seconds: with
//	                  -max-open 3 and N=8, handlers spend ~5/8 of their time in (*DB).conn
//	/alloc?kb=N       allocate N KiB and keep it (a growing cache)
//	/gc               runtime.GC()
//	/contend?ms=M&workers=W  W goroutines fight over one mutex for M ms (mutex and block
//	                  profiles see it when started with -mutex-fraction / -block-rate)
//	/spread?n=N&depth=D  keep N small allocations made from up to 4^D distinct call paths
//	                  (a big heap profile for benchmarks; start with -memprofilerate 1)
//
// labels.go adds /slow and /fast, tagged with pprof labels (endpoint=PATH), and
// /labelled-load?ms=N that calls them for N ms.
//
// metrics.go adds a latency histogram (/work, /latency, /load, /metrics). With -plain only
// those are served, on a mux of their own: no pprof, no expvar (a service a Prometheus
// server scrapes that the workbench cannot profile).
//
// With -leak it also leaks from start-up (leaks.go): a clients map, an audit buffer and
// blocked goroutines, beside a bounded decoy.
//
// It prints "listening on http://ADDR" as its first stdout line once it accepts connections.
package main

import (
	"context"
	"database/sql"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

var (
	parked  = make(chan struct{})
	parkMu  sync.Mutex
	cacheMu sync.Mutex
	cache   [][]byte // retained on purpose: the heap profile should show it
	sink    uint64
)

// spreadA..D pick a path by the base-4 digits of i, so n calls make n distinct stacks.
//
//go:noinline
func spreadA(i, d int) []byte { return spreadStep(i, d) }

//go:noinline
func spreadB(i, d int) []byte { return spreadStep(i, d) }

//go:noinline
func spreadC(i, d int) []byte { return spreadStep(i, d) }

//go:noinline
func spreadD(i, d int) []byte { return spreadStep(i, d) }

func spreadStep(i, d int) []byte {
	if d == 0 {
		return make([]byte, 64)
	}
	switch i % 4 {
	case 0:
		return spreadA(i/4, d-1)
	case 1:
		return spreadB(i/4, d-1)
	case 2:
		return spreadC(i/4, d-1)
	}
	return spreadD(i/4, d-1)
}

// hotspotBurn is the function the CPU profile test expects to dominate.
//
//go:noinline
func hotspotBurn(until time.Time) {
	x := uint64(1)
	for time.Now().Before(until) {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink += x
}

func intParam(r *http.Request, name string, def, max int) int {
	v, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || v < 0 {
		return def
	}
	if v > max {
		return max
	}
	return v
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	maxOpen := flag.Int("max-open", 4, "SetMaxOpenConns of the main pool")
	mutexRate := flag.Int("mutex-fraction", 0, "runtime.SetMutexProfileFraction")
	blockRate := flag.Int("block-rate", 0, "runtime.SetBlockProfileRate")
	memRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (0 keeps Go's default)")
	plain := flag.Bool("plain", false, "serve only the latency endpoints and /metrics (no pprof, no expvar)")
	leak := flag.Bool("leak", false, "run the leak scenarios of leaks.go (a clients map, an audit buffer, goroutines)")
	flag.Parse()
	if *leak {
		startLeaks()
	}
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}
	runtime.SetMutexProfileFraction(*mutexRate)
	runtime.SetBlockProfileRate(*blockRate)

	sql.Register("wbfake", fakeDriver{})
	db, err := sql.Open("wbfake", "main")
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(*maxOpen)
	db.SetMaxIdleConns(2)
	replica, err := sql.Open("wbfake", "replica")
	if err != nil {
		log.Fatal(err)
	}
	replica.SetMaxOpenConns(7)
	// one connection in the replica pool so its stats are not all zero
	if _, err := replica.Exec("SLEEP 0"); err != nil {
		log.Fatal(err)
	}

	if *plain {
		mux := http.NewServeMux()
		registerLatency(mux, db)
		serve(*addr, mux)
		return
	}
	registerLatency(http.DefaultServeMux, db)
	registerLabelled(http.DefaultServeMux)

	expvar.Publish("db", expvar.Func(func() any { return db.Stats() }))
	expvar.Publish("services", expvar.Func(func() any {
		return map[string]any{"orders": map[string]any{"replica": replica.Stats()}, "version": "1.0"}
	}))

	http.HandleFunc("/burn", func(w http.ResponseWriter, r *http.Request) {
		ms := intParam(r, "ms", 1000, 60000)
		go hotspotBurn(time.Now().Add(time.Duration(ms) * time.Millisecond))
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/spawn", func(w http.ResponseWriter, r *http.Request) {
		n := intParam(r, "n", 100, 100000)
		parkMu.Lock()
		ch := parked
		parkMu.Unlock()
		for i := 0; i < n; i++ {
			go func() { <-ch }()
		}
		fmt.Fprintln(w, runtime.NumGoroutine())
	})
	http.HandleFunc("/release", func(w http.ResponseWriter, r *http.Request) {
		parkMu.Lock()
		close(parked)
		parked = make(chan struct{})
		parkMu.Unlock()
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/dbload", func(w http.ResponseWriter, r *http.Request) {
		n := intParam(r, "n", 10, 10000)
		hold := intParam(r, "hold_ms", 100, 60000)
		rps := intParam(r, "rps", 0, 10000)
		query := func() {
			if _, err := db.Exec(fmt.Sprintf("SLEEP %d", hold)); err != nil {
				log.Print(err)
			}
		}
		if rps > 0 {
			seconds := intParam(r, "seconds", 5, 3600)
			go func() {
				tick := time.NewTicker(time.Second / time.Duration(rps))
				defer tick.Stop()
				end := time.Now().Add(time.Duration(seconds) * time.Second)
				for now := range tick.C {
					if now.After(end) {
						return
					}
					go query()
				}
			}()
		} else {
			for i := 0; i < n; i++ {
				go query()
			}
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		hold := intParam(r, "hold_ms", 20, 60000)
		if err := queryHandler(r.Context(), db, hold); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/handlers", func(w http.ResponseWriter, r *http.Request) {
		n := intParam(r, "n", 8, 1000)
		hold := intParam(r, "hold_ms", 20, 60000)
		seconds := intParam(r, "seconds", 10, 3600)
		self := "http://" + r.Host + fmt.Sprintf("/query?hold_ms=%d", hold)
		end := time.Now().Add(time.Duration(seconds) * time.Second)
		for i := 0; i < n; i++ {
			go func() {
				for time.Now().Before(end) {
					resp, err := http.Get(self)
					if err != nil {
						log.Print(err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		kb := intParam(r, "kb", 1024, 1<<20)
		cacheMu.Lock()
		cache = append(cache, make([]byte, kb<<10))
		cacheMu.Unlock()
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/spread", func(w http.ResponseWriter, r *http.Request) {
		n := intParam(r, "n", 1000, 1000000)
		depth := intParam(r, "depth", 8, 16)
		kept := make([][]byte, 0, n)
		for i := 0; i < n; i++ {
			kept = append(kept, spreadStep(i, depth))
		}
		cacheMu.Lock()
		cache = append(cache, kept...)
		cacheMu.Unlock()
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/contend", func(w http.ResponseWriter, r *http.Request) {
		ms := intParam(r, "ms", 500, 60000)
		workers := intParam(r, "workers", 8, 1000)
		end := time.Now().Add(time.Duration(ms) * time.Millisecond)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(end) {
					mu.Lock()
					time.Sleep(100 * time.Microsecond) // hold it so others queue
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		fmt.Fprintln(w, "ok")
	})

	serve(*addr, nil)
}

func serve(addr string, handler http.Handler) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, handler))
}

// queryHandler is the request handler the wall-profile test expects to queue in
// database/sql.(*DB).conn when more handlers run than the pool has connections.
//
//go:noinline
func queryHandler(ctx context.Context, db *sql.DB, holdMs int) error {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SLEEP %d", holdMs))
	if err != nil {
		return err
	}
	return rows.Close()
}
