package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
)

// TestHealthCommand: the container health check's command exits 0 for a
// live node, 1 when nothing answers, and 64 on bad usage.
func TestHealthCommand(t *testing.T) {
	srv := apitest.StartServer(t, "")
	t.Run("Alive", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run([]string{"health", "--url", "http://" + srv.Addr()}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		if !strings.HasPrefix(out.String(), "200 ") {
			t.Fatalf("printed %q", out.String())
		}
	})
	t.Run("Ready", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run([]string{"health", "--ready", "--url", "http://" + srv.Addr()}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s %s", code, out.String(), errOut.String())
		}
	})
	t.Run("NothingListening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		var out, errOut bytes.Buffer
		if code := run([]string{"health", "--url", "http://" + addr}, &out, &errOut); code != exitFailure {
			t.Fatalf("exit %d, want %d", code, exitFailure)
		}
	})
	t.Run("HostileStatusLine", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			if conn, err := ln.Accept(); err == nil {
				http.ReadRequest(bufio.NewReader(conn)) // answer only once asked
				conn.Write([]byte("HTTP/1.1 200 OK\x1b[2J\x1b]0;owned\x07\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
				conn.Close()
			}
		}()
		var out, errOut bytes.Buffer
		if code := run([]string{"health", "--url", "http://" + ln.Addr().String()}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		assertInert(t, "health", out.String())
	})
	t.Run("BadUsage", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run([]string{"health", "--nope"}, &out, &errOut); code != exitUsage {
			t.Fatalf("exit %d, want %d", code, exitUsage)
		}
	})
}
