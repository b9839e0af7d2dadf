package postgres

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parley-chat/parley"
)

// TestWrapClassifiesSQLState: disk_full is storage full (the server answers
// resource_exhausted), the rest of class 53 and lost connections are
// unavailable, anything else stays internal; the cause stays in the chain.
func TestWrapClassifiesSQLState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code string
		want parley.ErrorCode
	}{
		{"53100", parley.ESTORAGEFULL}, // disk_full
		{"53000", parley.EUNAVAILABLE}, // insufficient_resources
		{"53200", parley.EUNAVAILABLE}, // out_of_memory
		{"53300", parley.EUNAVAILABLE}, // too_many_connections
		{"57P01", parley.EUNAVAILABLE}, // admin_shutdown
		{"08006", parley.EUNAVAILABLE}, // connection_failure
		{"22001", parley.EINTERNAL},    // string_data_right_truncation
	} {
		cause := &pgconn.PgError{Code: tc.code}
		err := wrap("insert message", cause)
		if got := parley.ErrorCodeOf(err); got != tc.want {
			t.Errorf("SQLSTATE %s: code %q, want %q", tc.code, got, tc.want)
		}
		if !errors.Is(err, cause) {
			t.Errorf("SQLSTATE %s: cause lost from %v", tc.code, err)
		}
	}
}
