package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Client talks to one server and checks the contract on every exchange.
type Client struct {
	t      testing.TB
	Base   string
	HTTP   *http.Client
	router routers.Router
}

// New fetches baseURL/openapi.yaml and returns a client validating against
// it.
func New(t testing.TB, baseURL string) *Client {
	t.Helper()
	return NewWith(t, baseURL, nil)
}

// NewWith is New sending through rt (nil: http.DefaultTransport), for
// servers that need more than the defaults: an https:// server whose CA
// only rt trusts, say.
func NewWith(t testing.TB, baseURL string, rt http.RoundTripper) *Client {
	t.Helper()
	c := &Client{t: t, Base: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{
		Transport: rt,
		Timeout:   30 * time.Second,
		// Redirects are part of the contract under test, not to be followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	resp, err := c.HTTP.Get(c.Base + "/openapi.yaml")
	if err != nil {
		t.Fatalf("fetch served spec: %v", err)
	}
	defer resp.Body.Close()
	spec, _ := io.ReadAll(resp.Body)
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		t.Fatalf("served spec does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("served spec is invalid: %v", err)
	}
	doc.Servers = nil // match any host: tests run on ephemeral loopback ports
	if c.router, err = gorillamux.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return c
}

// Response is a completed exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it does not decode.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response body %q: %v", r.Body, err)
	}
}

// Do sends a request whose body is v marshalled to JSON (nil for none) and
// validates both request and response against the spec.
func (c *Client) Do(method, path, token string, v any) *Response {
	c.t.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	return c.exchange(method, path, token, body, true)
}

// Raw sends body as is, for malformed requests. Only the response is
// validated (when the route exists in the spec).
func (c *Client) Raw(method, path, token string, body []byte) *Response {
	c.t.Helper()
	return c.exchange(method, path, token, body, false)
}

// Get sends a GET with extra headers (a cookie, Accept), validated like Do.
func (c *Client) Get(path, token string, header http.Header) *Response {
	c.t.Helper()
	return c.exchange("GET", path, token, nil, true, header)
}

// GetRaw is Get for a request outside the spec (a missing required
// parameter); only the response is validated.
func (c *Client) GetRaw(path, token string, header http.Header) *Response {
	c.t.Helper()
	return c.exchange("GET", path, token, nil, false, header)
}

// Check validates a response the test read itself, off a raw connection
// (for requests no http.Client sends, like a body that trickles in), as
// Do validates its own, and returns it. It reads and closes resp.Body.
// It reports with Errorf, so goroutines may call it.
func (c *Client) Check(method, path string, resp *http.Response) *Response {
	c.t.Helper()
	defer resp.Body.Close()
	out := &Response{Status: resp.StatusCode, Header: resp.Header}
	var err error
	if out.Body, err = io.ReadAll(resp.Body); err != nil {
		c.t.Errorf("%s %s: read body: %v", method, path, err)
	}
	c.checkResponse(method, path, c.validationInput(method, path, "", nil), out)
	return out
}

// Stream opens a streaming GET (Server-Sent Events) that lasts until ctx
// ends, validates the request and the response's status and headers
// against the spec, and returns the response with its body unread. A
// response other than 200 is read whole and validated like any other.
func (c *Client) Stream(ctx context.Context, path, token string, header ...http.Header) *http.Response {
	c.t.Helper()
	input := c.validationInput("GET", path, token, nil)
	if input != nil {
		if err := openapi3filter.ValidateRequest(ctx, input); err != nil {
			c.t.Fatalf("GET %s: request violates the spec: %v", path, err)
		}
	}
	req := c.newRequest("GET", path, token, nil).WithContext(ctx)
	addHeaders(req, header)
	resp, err := (&http.Client{Transport: c.HTTP.Transport}).Do(req) // no timeout: a stream lasts
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.checkResponse("GET", path, input, &Response{Status: resp.StatusCode, Header: resp.Header, Body: body})
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp
	}
	c.checkStreamHeaders(path, input, resp)
	return resp
}

func (c *Client) checkStreamHeaders(path string, input *openapi3filter.RequestValidationInput, resp *http.Response) {
	c.t.Helper()
	if resp.Header.Get("X-Request-Id") == "" {
		c.t.Errorf("GET %s: no X-Request-Id", path)
	}
	if input == nil {
		c.t.Errorf("GET %s: a stream not in the spec", path)
		return
	}
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: true},
	})
	if err != nil {
		c.t.Errorf("GET %s: stream response violates the spec: %v", path, err)
	}
}

func addHeaders(req *http.Request, header []http.Header) {
	for _, h := range header {
		for k, vs := range h {
			req.Header[k] = vs
		}
	}
}

func init() {
	// Pages, scripts and stylesheets are validated as strings, like
	// text/plain.
	for _, mime := range []string{"text/html", "text/css", "text/javascript"} {
		openapi3filter.RegisterBodyDecoder(mime, func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(body)
			return string(b), err
		})
	}
}

func (c *Client) exchange(method, path, token string, body []byte, checkRequest bool, header ...http.Header) *Response {
	c.t.Helper()
	req := c.newRequest(method, path, token, body)
	addHeaders(req, header)
	input := c.validationInput(method, path, token, body)
	if checkRequest && input != nil {
		if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
			c.t.Fatalf("%s %s: request violates the spec: %v", method, path, err)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := &Response{Status: resp.StatusCode, Header: resp.Header}
	if out.Body, err = io.ReadAll(resp.Body); err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	c.checkResponse(method, path, input, out)
	return out
}

func (c *Client) newRequest(method, path, token string, body []byte) *http.Request {
	req, err := http.NewRequest(method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// checkResponse validates the response against the spec. Every response
// must carry X-Request-Id, and every error must be a JSON object with an
// error message, whether or not the route is in the spec.
func (c *Client) checkResponse(method, path string, input *openapi3filter.RequestValidationInput, r *Response) {
	c.t.Helper()
	if r.Header.Get("X-Request-Id") == "" {
		c.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	if r.Status >= 500 && r.Status != http.StatusServiceUnavailable {
		c.t.Errorf("%s %s: server error %d: %s", method, path, r.Status, r.Body)
	}
	if r.Status >= 400 {
		var e struct{ Error string }
		if json.Unmarshal(r.Body, &e) != nil || e.Error == "" {
			c.t.Errorf("%s %s: %d without a JSON error message: %q", method, path, r.Status, r.Body)
		}
	}
	if input == nil || r.Status == http.StatusMethodNotAllowed {
		return
	}
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input, Status: r.Status, Header: r.Header,
		Body: io.NopCloser(bytes.NewReader(r.Body)), Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		c.t.Errorf("%s %s: response %d violates the spec: %v\nbody: %s", method, path, r.Status, err, r.Body)
	}
}

// validationInput finds the spec route for path. Lock names may contain
// '/', which the spec's router cannot match, so the name is routed as a
// placeholder and passed as the path parameter itself.
func (c *Client) validationInput(method, path, token string, body []byte) *openapi3filter.RequestValidationInput {
	u, err := url.Parse(c.Base + path)
	if err != nil {
		return nil // a target that is not a URL (/locks/a%zzb) matches no operation
	}
	lookup, params := routePath(method, u.EscapedPath())
	probe, _ := http.NewRequest(method, c.Base+lookup+"?"+u.RawQuery, nil)
	route, found, err := c.router.FindRoute(probe)
	if err != nil {
		return nil // not in the spec: 404/405 paths
	}
	for k, v := range found {
		if _, ok := params[k]; !ok {
			params[k] = v
		}
	}
	req := c.newRequest(method, path, token, body)
	return &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
}

// routePath maps /locks/{name}[/action] and /elections/{name}[/action]
// with a slashed name to a path the router matches, returning the real
// name as a parameter.
func routePath(method, escaped string) (string, map[string]string) {
	params := map[string]string{}
	base, actions := "/locks/", []string{"acquire", "renew", "release"}
	rest, ok := strings.CutPrefix(escaped, base)
	if !ok {
		base, actions = "/elections/", []string{"campaign", "proclaim", "resign"}
		rest, ok = strings.CutPrefix(escaped, base)
	}
	if !ok || strings.HasSuffix(rest, "/") || rest == "" {
		// No name ends in a slash: the server routes such a path
		// nowhere, and so must the check.
		return escaped, params
	}
	suffix := ""
	if i := strings.LastIndexByte(rest, '/'); i >= 0 && method == http.MethodPost && slices.Contains(actions, rest[i+1:]) {
		rest, suffix = rest[:i], rest[i:]
	}
	name, err := url.PathUnescape(rest)
	if err != nil {
		name = rest
	}
	params["name"] = name
	return base + "placeholder" + suffix, params
}
