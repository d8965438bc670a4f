package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/server"
)

// restartable starts a server on dir with configure applied to the
// default test configuration, its log in logs; stop ends it, so the next
// start on dir can open the data dir.
func restartable(t *testing.T, dir string, logs io.Writer, configure func(*server.Config)) (c *apitest.Client, stop func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := server.Config{Listen: "127.0.0.1:0", DataDir: dir, Skew: apitest.TestSkew,
		Tokens: "alice:" + apitest.AliceToken + ",bob:" + apitest.BobToken,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	return apitest.New(t, "http://"+srv.Addr()), stop
}

// wantAuth checks that token is (or is not) accepted.
func wantAuth(t *testing.T, c *apitest.Client, who, token string, status int) {
	t.Helper()
	if r := c.Do("GET", "/auth/tokens", token, nil); r.Status != status {
		t.Errorf("%s: status %d, want %d: %s", who, r.Status, status, r.Body)
	}
}

// TestIdentity_RemovedStaticUserLosesEveryToken: bob rotates his static
// token (the rotation is a runtime token), then the operator removes bob
// from the configuration. At the next start neither of bob's tokens
// works, alice's still does, and the log names bob.
func TestIdentity_RemovedStaticUserLosesEveryToken(t *testing.T) {
	dir := t.TempDir()
	c, stop := restartable(t, dir, io.Discard, nil)
	r := c.Do("POST", "/auth/token/rotate", apitest.BobToken, nil)
	var rotated struct{ Token string }
	r.JSON(t, &rotated)
	if r.Status != http.StatusOK || rotated.Token == "" {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	wantAuth(t, c, "bob's rotated token before the removal", rotated.Token, http.StatusOK)
	stop()

	var logs apitest.LogBuffer
	c, _ = restartable(t, dir, &logs, func(cfg *server.Config) { cfg.Tokens = "alice:" + apitest.AliceToken })
	wantAuth(t, c, "bob's static token", apitest.BobToken, http.StatusUnauthorized)
	wantAuth(t, c, "bob's rotated token", rotated.Token, http.StatusUnauthorized)
	wantAuth(t, c, "alice", apitest.AliceToken, http.StatusOK)
	if l := logs.String(); !strings.Contains(l, "lost every token") || !strings.Contains(l, "bob") {
		t.Errorf("no log line names the retired user:\n%s", l)
	}
}
