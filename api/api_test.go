package api

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func load(t *testing.T, data []byte) map[string]any {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	raw, err := doc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestSpec_OnlyAddsToSeed proves the served document is the seed plus
// additions: every path, operation, parameter, response, schema and
// property of the seed is present with the same value. Lists (required
// fields, enums, parameters) must match exactly, so a seed shape cannot be
// narrowed or widened. Only prose (description, summary) may be reworded.
func TestSpec_OnlyAddsToSeed(t *testing.T) {
	if err := subset("", load(t, Seed), load(t, Spec)); err != nil {
		t.Fatal(err)
	}
}

func subset(path string, seed, served any) error {
	switch s := seed.(type) {
	case map[string]any:
		m, ok := served.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: served is %T, seed is an object", path, served)
		}
		for k, v := range s {
			if k == "description" || k == "summary" {
				continue
			}
			if err := subset(path+"/"+k, v, m[k]); err != nil {
				return err
			}
		}
		return nil
	case []any:
		if k := lastKey(path); k == "parameters" {
			return paramSubset(path, s, served)
		}
	}
	if !reflect.DeepEqual(seed, served) {
		return fmt.Errorf("%s: seed has %v, served has %v", path, seed, served)
	}
	return nil
}

// paramSubset lets an operation gain optional parameters while keeping
// every seed parameter unchanged and in order.
func paramSubset(path string, seed []any, served any) error {
	list, ok := served.([]any)
	if !ok || len(list) < len(seed) {
		return fmt.Errorf("%s: seed parameters missing", path)
	}
	for i := range seed {
		if err := subset(fmt.Sprintf("%s[%d]", path, i), seed[i], list[i]); err != nil {
			return err
		}
	}
	return nil
}

func lastKey(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[i+1:]
		}
	}
	return path
}
