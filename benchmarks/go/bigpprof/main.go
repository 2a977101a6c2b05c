// Command bigpprof writes a large pprof with many distinct stacks, the input of
// benchmarks/bench_pprof_decode.py. A heap profile with MemProfileRate=1 records
// every allocation by stack, so -stacks random call paths through 16 functions give
// about that many samples; a CPU profile (-kind cpu) spins along the same paths.
package main

import (
	"flag"
	"log"
	"math/rand"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

var sink [][]byte

type step func(path []int, size int)

var steps [16]step

// Each fN is a distinct frame; the small ones get inlined by the compiler, so the
// profile also holds locations with several lines (inline frames).
//
//go:noinline
func f0(p []int, s int) { next(p, s) }

//go:noinline
func f1(p []int, s int) { next(p, s) }

//go:noinline
func f2(p []int, s int) { next(p, s) }

//go:noinline
func f3(p []int, s int) { next(p, s) }

//go:noinline
func f4(p []int, s int) { next(p, s) }

//go:noinline
func f5(p []int, s int) { next(p, s) }

//go:noinline
func f6(p []int, s int) { next(p, s) }

//go:noinline
func f7(p []int, s int) { next(p, s) }
func f8(p []int, s int)  { inl8(p, s) }
func f9(p []int, s int)  { inl9(p, s) }
func f10(p []int, s int) { next(p, s) }
func f11(p []int, s int) { next(p, s) }

//go:noinline
func f12(p []int, s int) { next(p, s) }

//go:noinline
func f13(p []int, s int) { next(p, s) }

//go:noinline
func f14(p []int, s int) { next(p, s) }

//go:noinline
func f15(p []int, s int) { next(p, s) }

func inl8(p []int, s int) { next(p, s) }
func inl9(p []int, s int) { next(p, s) }

var spinUntil time.Time

//go:noinline
func next(p []int, s int) {
	if len(p) == 0 {
		leaf(s)
		return
	}
	steps[p[0]](p[1:], s)
}

//go:noinline
func leaf(s int) {
	if !spinUntil.IsZero() {
		x := 0
		for i := 0; i < 20000; i++ {
			x += i * i
		}
		_ = x
		return
	}
	sink = append(sink, make([]byte, s))
}

func main() {
	out := flag.String("o", "big.pb.gz", "output file")
	kind := flag.String("kind", "heap", "heap or cpu")
	stacks := flag.Int("stacks", 200000, "distinct call paths")
	depth := flag.Int("depth", 6, "path length (each step is two frames)")
	seconds := flag.Float64("seconds", 5, "cpu: how long to spin")
	flag.Parse()
	steps = [16]step{f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15}
	rng := rand.New(rand.NewSource(1))
	paths := make([][]int, *stacks)
	for i := range paths {
		p := make([]int, *depth)
		for j := range p {
			p[j] = rng.Intn(16)
		}
		paths[i] = p
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if *kind == "cpu" {
		spinUntil = time.Now().Add(time.Duration(*seconds * float64(time.Second)))
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		for i := 0; time.Now().Before(spinUntil); i++ {
			next(paths[i%len(paths)], 0)
		}
		pprof.StopCPUProfile()
		return
	}
	runtime.MemProfileRate = 1
	for i, p := range paths {
		next(p, 16+i%512)
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		log.Fatal(err)
	}
}
