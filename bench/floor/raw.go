package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
)

// maxRawBody bounds a request body; the load generator's are tiny.
const maxRawBody = 1 << 20

// serveRaw answers on ln with a hand-written HTTP/1.1 loop: requests are
// read from a buffered reader, answered into a buffered writer, and the
// writer is flushed when no further request is already buffered. The JSON
// work is handle's (the same decoding and encoding), so against the
// net/http floor it differs in the HTTP layer alone. It trusts its
// client (the load generator on loopback) and is no server: it measures
// what net/http's own work costs.
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
	var body []byte
	for {
		path, n, err := readHead(r)
		if err != nil {
			return
		}
		if cap(body) < n {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		out := answer(path, body)
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: floor\r\nContent-Length: %d\r\n\r\n", len(out))
		w.Write(out)
		if r.Buffered() == 0 && w.Flush() != nil {
			return
		}
	}
}

// readHead reads a request line and headers, returning the path and the
// Content-Length; a length that is not a number from 0 to maxRawBody is
// an error, which ends the connection.
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
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil || length < 0 || length > maxRawBody {
				return "", 0, fmt.Errorf("bad Content-Length %q", v)
			}
		}
	}
}
