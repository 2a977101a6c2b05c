// A stand-in for Go 1.26's /debug/pprof/goroutineleak, which this machine's Go (1.19)
// cannot serve. Go 1.26 finds leaked goroutines with the GC (blocked on a channel or lock
// nothing reachable can ever wake) and serves them as a goroutine profile. Here the
// service knows which of its goroutines it blocked forever (spawnBlocked): the handler
// takes pprof.Lookup("goroutine")'s own output (debug=1: each stack with its count,
// symbolised) and serves, as a pprof protobuf goroutine profile, only the stacks that run
// main.spawnBlocked's goroutine. Only with -goroutineleak; absent, the path is a 404 as on
// Go < 1.26.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
)

const leakedFunc = "main.spawnBlocked.func1"

type leakFrame struct {
	fn, file string
	line     int64
}

type leakRecord struct {
	count  int64
	frames []leakFrame // leaf first, as pprof lists locations
}

// leakedRecords parses `goroutine profile: total N` / `C @ pcs` / `#\tpc\tfunc+off\tfile:line`.
func leakedRecords() []leakRecord {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	var out []leakRecord
	var cur *leakRecord
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, " @ "):
			n, err := strconv.ParseInt(strings.SplitN(line, " ", 2)[0], 10, 64)
			if err != nil {
				cur = nil
				continue
			}
			out = append(out, leakRecord{count: n})
			cur = &out[len(out)-1]
		case strings.HasPrefix(line, "#\t") && cur != nil:
			parts := strings.Split(line, "\t")
			if len(parts) < 4 {
				continue
			}
			fn := parts[2]
			if i := strings.LastIndex(fn, "+0x"); i > 0 {
				fn = fn[:i]
			}
			file, ln := parts[3], int64(0)
			if i := strings.LastIndex(file, ":"); i > 0 {
				ln, _ = strconv.ParseInt(strings.TrimSpace(file[i+1:]), 10, 64)
				file = file[:i]
			}
			cur.frames = append(cur.frames, leakFrame{fn, strings.TrimSpace(file), ln})
		}
	}
	kept := out[:0]
	for _, r := range out {
		for _, f := range r.frames {
			if f.fn == leakedFunc {
				kept = append(kept, r)
				break
			}
		}
	}
	return kept
}

// a minimal protobuf writer for profile.proto's few messages
type pb struct{ b []byte }

func (p *pb) varint(x uint64) {
	for x >= 0x80 {
		p.b = append(p.b, byte(x)|0x80)
		x >>= 7
	}
	p.b = append(p.b, byte(x))
}
func (p *pb) uint(field int, x uint64) { p.varint(uint64(field)<<3 | 0); p.varint(x) }
func (p *pb) bytes(field int, b []byte) {
	p.varint(uint64(field)<<3 | 2)
	p.varint(uint64(len(b)))
	p.b = append(p.b, b...)
}

func goroutineLeakProfile() []byte {
	strs := []string{""}
	index := map[string]uint64{"": 0}
	str := func(s string) uint64 {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = uint64(len(strs))
		strs = append(strs, s)
		return index[s]
	}
	var prof pb
	vt := pb{}
	vt.uint(1, str("goroutine"))
	vt.uint(2, str("count"))
	prof.bytes(1, vt.b) // sample_type
	funcs := map[string]uint64{}
	locs := map[leakFrame]uint64{}
	var locMsgs, funcMsgs [][]byte
	for _, r := range leakedRecords() {
		var ids pb
		for _, f := range r.frames {
			id, ok := locs[f]
			if !ok {
				fid, ok := funcs[f.fn+"\x00"+f.file]
				if !ok {
					fid = uint64(len(funcs) + 1)
					funcs[f.fn+"\x00"+f.file] = fid
					fm := pb{}
					fm.uint(1, fid)
					fm.uint(2, str(f.fn))
					fm.uint(3, str(f.fn))
					fm.uint(4, str(f.file))
					funcMsgs = append(funcMsgs, fm.b)
				}
				id = uint64(len(locs) + 1)
				locs[f] = id
				line := pb{}
				line.uint(1, fid)
				line.uint(2, uint64(f.line))
				lm := pb{}
				lm.uint(1, id)
				lm.bytes(4, line.b)
				locMsgs = append(locMsgs, lm.b)
			}
			ids.varint(id)
		}
		var vals pb
		vals.varint(uint64(r.count))
		s := pb{}
		s.bytes(1, ids.b)
		s.bytes(2, vals.b)
		prof.bytes(2, s.b)
	}
	for _, m := range locMsgs {
		prof.bytes(4, m)
	}
	for _, m := range funcMsgs {
		prof.bytes(5, m)
	}
	pt := pb{}
	pt.uint(1, str("goroutine"))
	pt.uint(2, str("count"))
	for _, s := range strs {
		prof.bytes(6, []byte(s))
	}
	prof.bytes(11, pt.b) // period_type
	prof.uint(12, 1)     // period
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(prof.b)
	zw.Close()
	return out.Bytes()
}

func serveGoroutineLeak() {
	http.HandleFunc("/debug/pprof/goroutineleak", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(goroutineLeakProfile())
	})
}
