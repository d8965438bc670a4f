package main

import (
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

// TestWebhooks_KillDashNine: events not yet delivered when the server is
// kill -9ed are delivered after it restarts, in order, each with the
// delivery ID its failed attempts carried.
func TestWebhooks_KillDashNine(t *testing.T) {
	rcv := apitest.NewReceiver(t)
	rcv.Set(func(r *apitest.Receiver) { r.Status = http.StatusServiceUnavailable })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rcv.Certificate().Raw}), 0o600)
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--webhook-ca-file", caFile, "--webhook-retry-min", "50ms", "--webhook-retry-max", "200ms"}
	env := append([]string{"OCTOSTORE_WEBHOOK_ALLOW_PRIVATE=true"}, tokensEnv...)
	p := startServe(t, env, args...)
	c := apitest.New(t, p.Addr)
	if r := c.Do("POST", "/webhooks", token, map[string]any{"url": rcv.URL + "/hook", "secret": "k"}); r.Status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", r.Status, r.Body)
	}
	const n = 10
	for i := range n {
		if r := c.Do("POST", "/locks/kill/"+strconv.Itoa(i)+"/acquire", token, map[string]any{"ttl_seconds": 600}); r.Status != http.StatusOK {
			t.Fatalf("acquire: %d", r.Status)
		}
	}
	poll.Wait(10*time.Second, func() bool { return len(rcv.Attempts()) > 0 }) // checked below
	p.Kill()
	before := rcv.Attempts()
	if len(before) == 0 {
		t.Fatal("no delivery was attempted before the kill")
	}
	rcv.Set(func(r *apitest.Receiver) { r.Status = 0 })
	startServe(t, env, args...)
	got := rcv.WaitFor(t, n, 15*time.Second)
	for i, d := range got[:n] {
		if d.Payload.Lock != "kill/"+strconv.Itoa(i) || d.Payload.Event != "acquired" {
			t.Fatalf("delivery %d: %s", i, d.Body)
		}
	}
	if id := before[0].Header.Get("X-OctoStore-Delivery"); id != got[0].Header.Get("X-OctoStore-Delivery") {
		t.Fatalf("delivery id changed across the restart: %s then %s", id, got[0].Header.Get("X-OctoStore-Delivery"))
	}
}
