// Package api holds the OpenAPI document the server implements and serves
// at /openapi.yaml: the seed (openapi-seed.yaml, kept verbatim) plus
// additions, never a changed seed shape.
package api

import _ "embed"

// Spec is the served OpenAPI document.
//
//go:embed openapi.yaml
var Spec []byte

// Seed is the user's original API contract, kept to prove that Spec only
// adds to it.
//
//go:embed openapi-seed.yaml
var Seed []byte
