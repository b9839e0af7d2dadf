package main

import (
	"io"
	"slices"
	"testing"
)

// TestCORSOrigins: no cross-origin calls unless origins are named; the web
// app's development setup names its own (web/README.md).
func TestCORSOrigins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"DefaultNone", nil, nil},
		{"None", []string{"--cors-origins", "none"}, nil},
		{"DevServer", []string{"--cors-origins", "http://localhost:5173"}, []string{"http://localhost:5173"}},
		{"Several", []string{"--cors-origins", "https://a.example, https://b.example"}, []string{"https://a.example", "https://b.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseConfig(tc.args, func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.corsOrigins, tc.want) {
				t.Errorf("corsOrigins = %q, want %q", cfg.corsOrigins, tc.want)
			}
		})
	}
}
