package chaos

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// In isolated tenancy the clients u0..u4 share the group "team" (the
// contended names live under team/) and each locks under its own name
// (u3/sl/...); "root" administers and makes the final reads.
const (
	teamGroup = "team"
	rootToken = "chaos-root-token-0123456789"
)

func user(id int) string { return fmt.Sprintf("u%d", id) }

// owner is the prefix of names under namespace ns: none in shared
// tenancy, whose model and names stay exactly as they were.
func (cl *chaosCluster) owner(ns string) string {
	if !cl.isolated {
		return ""
	}
	return ns + "/"
}

// readerToken reads every name: client 0's in shared tenancy, the
// administrator's in isolated tenancy.
func (cl *chaosCluster) readerToken() string {
	if cl.isolated {
		return rootToken
	}
	return tokenOf(0)
}

func startIsolatedCluster(t *testing.T) *chaosCluster {
	var members []string
	for i := range numClients {
		members = append(members, user(i))
	}
	groups := filepath.Join(t.TempDir(), "groups")
	if err := os.WriteFile(groups, []byte(teamGroup+": "+strings.Join(members, ",")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := clusterEnv()
	env[0] += ",root:" + rootToken // OCTOSTORE_TOKENS
	env = append(env, "OCTOSTORE_TENANCY=isolated", "OCTOSTORE_GROUPS_FILE="+groups, "OCTOSTORE_ADMIN_USERS=root")
	return startClusterWith(&chaosCluster{t: t, env: env, isolated: true})
}

// squats are a round's attempts to acquire in another user's namespace.
type squats struct {
	mu         sync.Mutex
	refused    int
	violations []string
}

// squat tries to take a name in another client's namespace (one that
// client may hold right now). Under faults the answer may be lost or a
// 503, but never a grant, a conflict or anything else that reads the
// lock: only 403 forbidden_namespace. It is not part of the model: it
// changes nothing.
func (c *client) squat() {
	other := (c.id + 1 + c.rng.IntN(numClients-1)) % numClients
	name := fmt.Sprintf("%s/sl/%d/%d/%d", user(other), c.round, other, c.rng.IntN(3)+1)
	urls := c.cl.up()
	if len(urls) == 0 {
		return
	}
	req, _ := http.NewRequest("POST", urls[c.rng.IntN(len(urls))]+"/locks/"+name+"/acquire", strings.NewReader(`{"ttl_seconds": 3600}`))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var b struct{ Code string }
	json.NewDecoder(resp.Body).Decode(&b)
	c.rec.squats.note(resp.StatusCode, b.Code, fmt.Sprintf("%s took %s: %d %s", user(c.id), name, resp.StatusCode, b.Code))
}

func (s *squats) note(status int, code, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case status == http.StatusForbidden && code == "forbidden_namespace":
		s.refused++
	case status == http.StatusServiceUnavailable && (code == "no_leader" || code == "shutting_down" || code == "outcome_unknown"):
	default:
		s.violations = append(s.violations, what)
	}
}

// checkSquats fails the round if a squat got anything but a refusal, or
// (in isolated tenancy) if none was refused at all: the check must run.
func (r *recorder) checkSquats(t *testing.T, isolated bool) {
	r.squats.mu.Lock()
	defer r.squats.mu.Unlock()
	for _, v := range r.squats.violations {
		t.Errorf("squatting on another owner's namespace: %s", v)
	}
	if isolated && r.squats.refused == 0 {
		t.Error("no squat was refused: the namespace check did not run")
	}
	if isolated {
		t.Logf("%d squats refused", r.squats.refused)
	}
}

// TestChaosIsolated is one round of TestChaos in isolated tenancy: the
// same clients, model and faults, the contended names under a group all
// clients share and each client's session locks under its own name,
// while clients now and then try to take a name in another's namespace,
// which must always be refused.
func TestChaosIsolated(t *testing.T) {
	duration, seed := settings(t)
	length := min(duration, isolatedRoundLength)
	t.Logf("seed %d, %v of faults (rerun: go test ./internal/chaos -run ChaosIsolated -chaos.seed %d)", seed, length, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	runRound(t, startIsolatedCluster(t), rng, 0, length, seed)
}

// isolatedRoundLength keeps the isolated round shorter than the shared
// run: it adds a mode, not another fault campaign.
const isolatedRoundLength = 15 * time.Second
