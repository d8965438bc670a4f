package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"

	"github.com/octostore/octostore/api"
	"github.com/octostore/octostore/internal/state"
)

// deposedCluster is a node that was the leader a moment ago: it knows
// another leader now, and its own state may be behind that leader's.
type deposedCluster struct {
	fuzzCluster
	dials chan string
}

func (deposedCluster) IsReady() bool { return false }
func (c deposedCluster) DialForward(_ context.Context, id string) (net.Conn, error) {
	c.dials <- id
	return nil, errors.New("unreachable in this test")
}

// NewDeposedAPI is an API on a node that no longer leads; the leader it
// knows is n1, and every dial towards it is reported on dials.
func NewDeposedAPI(dials chan string) *API {
	cl := deposedCluster{fuzzCluster: fuzzCluster{&memStore{st: state.New()}}, dials: dials}
	return New(Config{Store: cl.store, Spec: api.Spec, Cluster: cl, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}
