package main

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

var adminTokenRE = regexp.MustCompile(`Authorization: Bearer (octo_[A-Za-z0-9_-]+)`)

// firstStartAdmin returns the admin token p printed on its first start.
func firstStartAdmin(t *testing.T, p *proc) string {
	t.Helper()
	m := adminTokenRE.FindStringSubmatch(p.Log())
	if m == nil || !strings.Contains(p.Log(), "octostore token issue-admin --data-dir") {
		t.Fatalf("no admin token, or no word of its recovery:\n%s", p.Log())
	}
	return m[1]
}

// stop ends p gracefully, so that its data dir is free.
func stop(t *testing.T, p *proc) {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	if err := p.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Log())
	}
}

// runIssueAdminIn runs `octostore token issue-admin --data-dir dir` in-process.
func runIssueAdminIn(t *testing.T, dir string, flags ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"token", "issue-admin", "--data-dir", dir}, flags...), &out, &errb)
	return code, out.String(), errb.String()
}

type tokenList struct {
	Tokens []struct{ Login, Source string }
}

// TestTokenIssueAdmin_RecoversALostToken: the admin token printed once is
// lost; issue-admin is refused while the server runs, gives a new token
// once it is stopped, and after a restart the new token is an
// administrator's while the old one keeps working.
func TestTokenIssueAdmin_RecoversALostToken(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, nil, "--data-dir", dir)
	lost := firstStartAdmin(t, p)
	if code, _, errs := runIssueAdminIn(t, dir); code == 0 || !strings.Contains(errs, "stop the server first") {
		t.Fatalf("issue-admin on a running server: exit %d: %s", code, errs)
	}
	stop(t, p)
	code, out, errs := runIssueAdminIn(t, dir)
	fresh := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(fresh, "octo_") || fresh == lost || !strings.Contains(errs, "only this once") {
		t.Fatalf("issue-admin: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	p = startServe(t, nil, "--data-dir", dir)
	if adminTokenRE.MatchString(p.Log()) {
		t.Fatalf("the restart printed a token:\n%s", p.Log())
	}
	c := apitest.New(t, p.Addr)
	var list tokenList
	c.Do("GET", "/auth/tokens?all=true", fresh, nil).JSON(t, &list)
	if len(list.Tokens) != 2 {
		t.Fatalf("tokens after the recovery: %+v", list.Tokens)
	}
	for _, tok := range list.Tokens {
		if tok.Login != "admin" || tok.Source != "bootstrap" {
			t.Fatalf("token %+v: want the admin's, source bootstrap", tok)
		}
	}
	if r := c.Do("GET", "/auth/tokens?all=true", lost, nil); r.Status != http.StatusOK {
		t.Fatalf("the old token after the recovery: %d %s", r.Status, r.Body)
	}
}

// TestTokenIssueAdmin_Refused: not a data dir, a node whose users come
// from static tokens, and the members of a two-node cluster are refused
// with a reason; a lone node with a Raft address is a single node.
func TestTokenIssueAdmin_Refused(t *testing.T) {
	if code, _, errs := runIssueAdminIn(t, t.TempDir()); code == 0 || !strings.Contains(errs, "not an OctoStore data dir") {
		t.Errorf("empty dir: exit %d: %s", code, errs)
	}
	static := t.TempDir()
	stop(t, startServe(t, tokensEnv, "--data-dir", static))
	if code, _, errs := runIssueAdminIn(t, static); code == 0 || !strings.Contains(errs, "no first-start admin") {
		t.Errorf("static tokens: exit %d: %s", code, errs)
	}

	keyEnv := []string{"OCTOSTORE_CLUSTER_KEY=process-cluster-key-0123456789"}
	d1, d2 := t.TempDir(), t.TempDir()
	n1 := startServe(t, keyEnv, "--node-id", "n1", "--data-dir", d1, "--raft-addr", "127.0.0.1:0")
	firstStartAdmin(t, n1)
	stop(t, n1)
	if code, _, errs := runIssueAdminIn(t, d1); code == 0 || !strings.Contains(errs, "give the --node-id") {
		t.Fatalf("a node started with --node-id, without it: exit %d: %s", code, errs)
	}
	code, out, errs := runIssueAdminIn(t, d1, "--node-id", "n1")
	admin := strings.TrimSpace(out)
	if code != 0 {
		t.Fatalf("a lone node with a Raft address: exit %d: %s", code, errs)
	}
	n1 = startServe(t, keyEnv, "--node-id", "n1", "--data-dir", d1, "--raft-addr", n1.Raft)
	n2 := startServe(t, keyEnv, "--node-id", "n2", "--data-dir", d2, "--raft-addr", "127.0.0.1:0", "--join", n1.Raft)
	poll.Until(t, 15*time.Second, "two members", func() bool {
		var st clusterStatus
		apitest.New(t, n1.Addr).Do("GET", "/cluster", admin, nil).JSON(t, &st)
		return len(st.Nodes) == 2
	})
	stop(t, n2)
	stop(t, n1)
	for id, dir := range map[string]string{"n1": d1, "n2": d2} {
		if code, _, errs := runIssueAdminIn(t, dir, "--node-id", id); code == 0 || !strings.Contains(errs, "cluster member") ||
			!strings.Contains(errs, "OCTOSTORE_TOKENS") {
			t.Errorf("cluster member %s: exit %d: %s", dir, code, errs)
		}
	}
}

// TestFirstStartAdmin_RetiredByAnIdentitySource: the first-start admin
// works until the operator configures static tokens; from that start its
// token is refused and the log says why. issue-admin will not bring it
// back, and a later start without any configuration creates no new admin
// (users exist) and leaves the static user working.
func TestFirstStartAdmin_RetiredByAnIdentitySource(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, nil, "--data-dir", dir)
	admin := firstStartAdmin(t, p)
	if r := apitest.New(t, p.Addr).Do("GET", "/auth/tokens?all=true", admin, nil); r.Status != http.StatusOK {
		t.Fatalf("the admin on its first start: %d %s", r.Status, r.Body)
	}
	stop(t, p)

	p = startServe(t, tokensEnv, "--data-dir", dir)
	c := apitest.New(t, p.Addr)
	if r := c.Do("GET", "/auth/tokens", admin, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("the admin once static tokens are configured: %d %s", r.Status, r.Body)
	}
	if r := c.Do("GET", "/auth/tokens", token, nil); r.Status != http.StatusOK {
		t.Errorf("the static user: %d %s", r.Status, r.Body)
	}
	if !strings.Contains(p.Log(), "first-start admin is retired") {
		t.Errorf("no log line says the admin was retired:\n%s", p.Log())
	}
	stop(t, p)

	if code, out, errs := runIssueAdminIn(t, dir); code == 0 || out != "" || !strings.Contains(errs, "retired") {
		t.Errorf("issue-admin for a retired admin: exit %d, stdout %q: %s", code, out, errs)
	}

	p = startServe(t, nil, "--data-dir", dir)
	if adminTokenRE.MatchString(p.Log()) {
		t.Errorf("a start without configuration on a data dir with users created an admin:\n%s", p.Log())
	}
	c = apitest.New(t, p.Addr)
	if r := c.Do("GET", "/auth/tokens", admin, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("the retired admin after a start without configuration: %d %s", r.Status, r.Body)
	}
	if r := c.Do("GET", "/auth/tokens", token, nil); r.Status != http.StatusOK {
		t.Errorf("the static user after a start without configuration: %d %s", r.Status, r.Body)
	}
}
