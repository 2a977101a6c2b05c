package main

// Handlers tagged with pprof labels, as services do to slice a CPU profile by endpoint:
//
//	/slow, /fast      each burns CPU under pprof.Do(ctx, pprof.Labels("endpoint", path), ...)
//	                  (/slow ten times as long as /fast per request)
//	/labelled-load?ms=N  for N ms, one client calls /slow back to back and another /fast with
//	                  36 ms rests: /slow takes about ten times the CPU of /fast

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/pprof"
	"time"
)

// withEndpoint runs h with the request's path as its "endpoint" pprof label.
func withEndpoint(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pprof.Do(r.Context(), pprof.Labels("endpoint", r.URL.Path), func(ctx context.Context) {
			h(w, r.WithContext(ctx))
		})
	}
}

//go:noinline
func spinFor(d time.Duration) uint64 {
	x := uint64(1)
	for until := time.Now().Add(d); time.Now().Before(until); {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

//go:noinline
func slowHandler(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, spinFor(40*time.Millisecond))
}

//go:noinline
func fastHandler(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, spinFor(4*time.Millisecond))
}

// callLoop calls url until the deadline, resting pause between calls.
func callLoop(url string, until time.Time, pause time.Duration) {
	client := &http.Client{Timeout: 10 * time.Second}
	for time.Now().Before(until) {
		resp, err := client.Get(url)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(pause)
	}
}

func registerLabelled(mux *http.ServeMux) {
	mux.HandleFunc("/slow", withEndpoint(slowHandler))
	mux.HandleFunc("/fast", withEndpoint(fastHandler))
	mux.HandleFunc("/labelled-load", func(w http.ResponseWriter, r *http.Request) {
		until := time.Now().Add(time.Duration(intParam(r, "ms", 5000, 60000)) * time.Millisecond)
		base := "http://" + r.Host
		go callLoop(base+"/slow", until, 0)
		go callLoop(base+"/fast", until, 36*time.Millisecond)
		fmt.Fprintln(w, "ok")
	})
}
