package client_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/server"
)

// start runs a real in-process server and returns clients for alice and
// bob.
func start(t *testing.T) (*server.Server, *client.Client, *client.Client) {
	t.Helper()
	srv := apitest.StartServer(t, "")
	return srv, newClient(t, srv.Addr(), apitest.AliceToken), newClient(t, srv.Addr(), apitest.BobToken)
}

// newClient returns a client of the server at addr whose every exchange
// is validated against the served spec.
func newClient(t *testing.T, addr, token string, opts ...client.Option) *client.Client {
	t.Helper()
	hc := &http.Client{Transport: apitest.New(t, "http://"+addr).Transport(http.DefaultTransport)}
	c, err := client.New("http://"+addr, token, append([]client.Option{client.WithHTTPClient(hc)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ctx is a test context that ends with the test, or after 30 s.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// done waits for ctx to end, up to d, and returns when it ended.
func done(t *testing.T, c context.Context, d time.Duration, what string) time.Time {
	t.Helper()
	select {
	case <-c.Done():
		return time.Now()
	case <-time.After(d):
		t.Fatalf("%s: context not cancelled within %v", what, d)
		return time.Time{}
	}
}
