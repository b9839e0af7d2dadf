package password_test

import (
	"testing"

	"github.com/parley-chat/parley/internal/password"
)

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h, err := password.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, password string
		want           bool
	}{
		{"OK", "correct horse", true},
		{"WrongPassword", "correct horsE", false},
	} {
		ok, err := password.Verify(h, tc.password)
		if err != nil || ok != tc.want {
			t.Errorf("%s: Verify = %v, %v; want %v", tc.name, ok, err, tc.want)
		}
	}
	if _, err := password.Verify([]byte("$bcrypt$x"), "x"); err == nil {
		t.Error("Verify accepted an unknown format")
	}
}
