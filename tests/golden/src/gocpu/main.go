// Command gocpu records the golden Go CPU profile tests/golden/go_cpu.pb.gz: two
// goroutines burn CPU under pprof labels (worker=a/b), through an inlined helper,
// for about one second. Regenerate: go run . -o ../../go_cpu.pb.gz
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

var sink int

func square(i int) int { return i * i } // inlined: a location with two lines

//go:noinline
func crunch(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += square(i) % 7
	}
	return s
}

//go:noinline
func handle(until time.Time) {
	for time.Now().Before(until) {
		sink += crunch(50000)
	}
}

func main() {
	out := flag.String("o", "go_cpu.pb.gz", "output")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	until := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b"} {
		wg.Add(1)
		go pprof.Do(context.Background(), pprof.Labels("worker", name), func(context.Context) {
			defer wg.Done()
			handle(until)
		})
	}
	wg.Wait()
	pprof.StopCPUProfile()
}
