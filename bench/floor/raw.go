package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

// serveRaw answers on ln with a hand-written HTTP/1.1 loop: requests are
// read from a buffered reader, answered into a buffered writer, and the
// writer is flushed when no further request is already buffered. It
// trusts its client (the load generator on loopback) and is no server:
// it measures what net/http's own work costs.
func serveRaw(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go serveConn(c)
	}
}

func serveConn(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReaderSize(c, 4096), bufio.NewWriterSize(c, 4096)
	var body, out []byte
	for {
		path, n, err := readHead(r)
		if err != nil {
			return
		}
		body = append(body[:0], make([]byte, n)...)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if isLockWrite(path) {
			durable(body, path)
		}
		out = answer(out[:0], path)
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: floor\r\nContent-Length: %d\r\n\r\n", len(out))
		w.Write(out)
		if r.Buffered() == 0 && w.Flush() != nil {
			return
		}
	}
}

// readHead reads a request line and headers, returning the path and the
// Content-Length.
func readHead(r *bufio.Reader) (path string, length int, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return "", 0, err
	}
	if f := bytes.Fields(line); len(f) == 3 {
		path = string(f[1])
	}
	for {
		h, err := r.ReadSlice('\n')
		if err != nil {
			return "", 0, err
		}
		if len(h) <= 2 {
			return path, length, nil
		}
		if k, v, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
}

// answer appends the JSON answer to path, the shapes handle gives.
func answer(out []byte, path string) []byte {
	expires := time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
	switch {
	case path == "/health" || path == "/ready":
		return append(out, `{"status":"ok"}`...)
	case len(path) > len("/acquire") && path[len(path)-len("/acquire"):] == "/acquire":
		return fmt.Appendf(out, `{"status":"acquired","name":%q,"lease_id":"9de484d2-73bb-42d1-9a1c-b0b512dd136b","fencing_token":%d,"expires_at":%q,"holder":"bench"}`,
			path[len("/locks/"):len(path)-len("/acquire")], token.Add(1), expires)
	case len(path) > len("/release") && path[len(path)-len("/release"):] == "/release":
		return append(out, `{"status":"released","message":"Lock released"}`...)
	}
	return fmt.Appendf(out, `{"session_id":"5f0c6a9e-2b7d-4c1e-9a53-0d8e7f6b1c2a","ttl_seconds":60,"expires_at":%q,"keepalive_interval_secs":30}`, expires)
}
