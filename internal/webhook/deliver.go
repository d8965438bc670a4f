package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// Payload is the seed's WebhookPayload. Release and expiry events carry
// the holder and token of the lock that ended, which receivers need to
// match them to the grant.
type Payload struct {
	Event        string    `json:"event"`
	Lock         string    `json:"lock"`
	HolderID     uuid.UUID `json:"holder_id"`
	FencingToken uint64    `json:"fencing_token"`
	Timestamp    time.Time `json:"timestamp"`
}

// NewPayload is the body delivered for e.
func NewPayload(e state.Event) Payload {
	return Payload{Event: e.Kind.String(), Lock: e.Lock, HolderID: e.HolderID, FencingToken: e.Token,
		Timestamp: time.Unix(0, e.Time).UTC()}
}

// DeliveryID names one event's delivery to one webhook: the same on every
// retry, after a restart and on a new leader, so receivers can drop
// duplicates.
func DeliveryID(hook uuid.UUID, seq uint64) uuid.UUID {
	return uuid.NewSHA1(hook, []byte(strconv.FormatUint(seq, 10)))
}

// Sign is the X-OctoStore-Signature value for body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// poster sends single delivery attempts.
type poster struct {
	client    *http.Client
	userAgent string
}

func newPoster(g guard, roots *x509.CertPool, timeout time.Duration, userAgent string) *poster {
	transport := &http.Transport{
		Proxy:               nil, // a proxy would connect to the unchecked name
		DialContext:         g.dial,
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: timeout,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	return &poster{userAgent: userAgent, client: &http.Client{
		Transport: transport, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// post makes one attempt; any 2xx is success, anything else an error.
func (p *poster) post(ctx context.Context, hook state.Webhook, e state.Event) error {
	body, err := json.Marshal(NewPayload(e))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", p.userAgent)
	req.Header.Set("X-OctoStore-Event", e.Kind.String())
	req.Header.Set("X-OctoStore-Delivery", DeliveryID(hook.ID, e.Seq).String())
	if hook.Secret != "" {
		req.Header.Set("X-OctoStore-Signature", Sign(hook.Secret, body))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return withoutURL(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// withoutURL drops the URL from an HTTP client error: the error is logged
// and kept as a deactivation reason, and a webhook URL's path or query
// may carry credentials.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
