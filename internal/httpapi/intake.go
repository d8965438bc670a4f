package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/google/uuid"
)

// intake takes a routed request in, up to its handler. Its order is what
// keeps slow and unknown clients from holding what others need: the
// caller is identified (its user, or its address on public routes) and
// takes a slot among its own requests; then its body is read, within
// BodyTimeout; only then does it take a short slot of the node's. A
// client sending its body slowly holds nothing but its own slots.
//
// A request this node forwards is identified and admitted by the leader.
// Here its body is read, so that the leader gets it whole at once, and a
// public one counts under its address: the leader sees only this node's.
func (a *API) intake(w http.ResponseWriter, rt *route, req *request, forward bool) error {
	if rt.probe {
		return nil // probes must answer under overload
	}
	req.adm.a = a
	var err error
	switch {
	case rt.public:
		err = req.adm.enterAs(addrKey(req.RemoteAddr), a.limits.MaxInFlightPerAddr)
	case !forward:
		if err = a.identify(req); err == nil {
			err = req.adm.enterAs(clientKey{user: req.user.ID}, a.limits.MaxInFlightPerUser)
		}
	}
	if err == nil && !forward {
		err = req.paramErr
	}
	if err == nil && !forward && !rt.public {
		err = a.checkScope(rt, req)
	}
	if err == nil && !forward && !rt.public {
		err = a.checkNamespace(rt, req)
	}
	if err == nil && rt.body && req.Method == http.MethodPost {
		err = a.readBodyFirst(w, req, forward)
	}
	if err != nil || forward {
		return err
	}
	return req.adm.admit()
}

// identify authenticates req and charges it to its user's rate; a
// failure counts against its address (authFailed).
func (a *API) identify(req *request) (err error) {
	if req.user, req.tok, err = a.authenticate(req.Request); err != nil {
		return a.authFailed(req, err)
	}
	req.token = req.tok.Hash
	a.noteUse(req.tok)
	a.noteAccount(req.user)
	return a.rateLimit(req.user.ID)
}

// hasBody says whether r comes with a body still to read.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// readBodyFirst reads r's whole body, at most maxBody within
// BodyTimeout, and leaves it for the handler, or when forwarding, a copy
// for the forwarder.
func (a *API) readBodyFirst(w http.ResponseWriter, req *request, forward bool) error {
	r := req.Request
	if !hasBody(r) {
		return nil
	}
	rc := http.NewResponseController(w)
	if a.limits.BodyTimeout > 0 {
		// Writers without deadlines (tests' recorders) leave the
		// server's ReadTimeout in charge.
		rc.SetReadDeadline(time.Now().Add(a.limits.BodyTimeout))
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if a.limits.BodyTimeout > 0 {
		// Nothing more is read for this request; a deadline left behind
		// would cut a long wait short.
		rc.SetReadDeadline(time.Time{})
	}
	req.body = b // never nil: readBody answers an empty body with an empty slice
	if forward {
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength, r.TransferEncoding = int64(len(b)), nil
	}
	w.Header().Del("Connection") // the body is in: the connection may serve another request
	return nil
}

// dropUnreadBody makes net/http give up at once on a body nobody read
// (one that came with a GET, or with a request refused before reading
// it): it reads what is left before closing the connection, and a slow
// client would keep it reading. Its "Connection: close" says the body is
// unread: readBodyFirst removes it.
func dropUnreadBody(w http.ResponseWriter) {
	if w.Header().Get("Connection") == "close" {
		http.NewResponseController(w).SetReadDeadline(time.Now())
	}
}

// clientKey names a client for per-client limits: a user, or the address
// of an unauthenticated caller.
type clientKey struct {
	user uuid.UUID
	addr netip.Prefix
}

// addrKey is the client whose connection comes from remoteAddr: the
// connection's own peer, never a header such as X-Forwarded-For, which
// a client writes itself and would fill with a new address per request.
// IPv6 addresses count by /64, the block one subscriber usually has, so
// that hopping between its addresses gains nothing.
func addrKey(remoteAddr string) clientKey {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return clientKey{} // not TCP (a test's recorder): all share one key
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return clientKey{addr: p}
}

// clientSlots counts each client's requests in progress. A client's entry
// goes with its last request, so memory follows the requests in
// progress, not every client ever seen.
type clientSlots struct {
	mu   sync.Mutex
	held map[clientKey]int
}

func (c *clientSlots) tryAcquire(k clientKey, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[k] >= limit {
		return false
	}
	if c.held == nil {
		c.held = map[clientKey]int{}
	}
	c.held[k]++
	return true
}

func (c *clientSlots) release(k clientKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[k]--; c.held[k] <= 0 {
		delete(c.held, k)
	}
}
