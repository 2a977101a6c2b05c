package main

// A tiny in-process database/sql driver: just enough for a real *sql.DB pool whose
// connections can be held for a while, so DBStats (open, in use, idle, waits) move.

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

type fakeDriver struct{}

func (fakeDriver) Open(name string) (driver.Conn, error) { return &fakeConn{}, nil }

type fakeConn struct{}

func (c *fakeConn) Prepare(query string) (driver.Stmt, error) { return &fakeStmt{query: query}, nil }
func (c *fakeConn) Close() error                              { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)                 { return nil, errors.New("fakedb: no transactions") }

// fakeStmt understands one statement: "SLEEP <ms>", which holds the connection that long.
type fakeStmt struct{ query string }

func (s *fakeStmt) Close() error  { return nil }
func (s *fakeStmt) NumInput() int { return 0 }

func (s *fakeStmt) hold(ctx context.Context) error {
	f := strings.Fields(s.query)
	if len(f) == 2 && f[0] == "SLEEP" {
		ms, err := strconv.Atoi(f[1])
		if err != nil {
			return err
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *fakeStmt) Exec(args []driver.Value) (driver.Result, error) {
	return driver.RowsAffected(0), s.hold(context.Background())
}

func (s *fakeStmt) Query(args []driver.Value) (driver.Rows, error) {
	if err := s.hold(context.Background()); err != nil {
		return nil, err
	}
	return &fakeRows{}, nil
}

type fakeRows struct{ done bool }

func (r *fakeRows) Columns() []string { return []string{"n"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = int64(1)
	return nil
}
