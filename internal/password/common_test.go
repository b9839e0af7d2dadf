package password_test

import (
	"testing"

	"github.com/parley-chat/parley/internal/password"
)

func TestIsCommon(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		password string
		common   bool
	}{
		{"12345678", true},
		{"password", true},
		{"password1", true},
		{"Password1", true}, // case does not help
		{"iloveyou1", true},
		{"qqqqqq1", true},   // rank 10,000
		{"bluenote", false}, // rank 10,001 or lower
		{"correct horse battery staple", false},
		{"p4rley-test-pass", false},
	} {
		if got := password.IsCommon(tc.password); got != tc.common {
			t.Errorf("IsCommon(%q) = %v, want %v", tc.password, got, tc.common)
		}
	}
}
