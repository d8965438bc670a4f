package apitest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// Transport returns an http.RoundTripper that sends through next and
// validates every exchange against the served spec, as Do does, so a
// client library's requests and the answers it gets are checked too.
// Violations are reported with Errorf; streams have only their status
// and headers checked.
func (c *Client) Transport(next http.RoundTripper) http.RoundTripper {
	return &validating{c: c, next: next}
}

type validating struct {
	c    *Client
	next http.RoundTripper
}

// RoundTrip validates the request, sends it, and validates the answer.
func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	path := req.URL.EscapedPath()
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	token := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	input := v.c.validationInput(req.Method, path, token, body)
	if input != nil {
		if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
			v.c.t.Errorf("%s %s: request violates the spec: %v", req.Method, path, err)
		}
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		v.c.checkStreamHeaders(path, input, resp)
		return resp, nil
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return resp, nil // the caller sees the short body
	}
	v.c.checkResponse(req.Method, path, input, &Response{Status: resp.StatusCode, Header: resp.Header, Body: data})
	return resp, nil
}
