package server

import (
	"encoding/base64"
	"strings"

	"github.com/parley-chat/parley"
)

// Page tokens are opaque to clients: base64url of "<listing>:<last key>", so
// a token from one listing is refused by another. Keys are names, which
// sort the listings.
const maxPageTokenLen = 256

func encodePageToken(listing, lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(listing + ":" + lastKey))
}

// decodePageToken returns the key to continue after; "" for the first page.
func decodePageToken(listing, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	invalid := parley.Invalid([]parley.FieldViolation{{Field: "page_token", Description: "is not a token from this listing"}})
	if len(token) > maxPageTokenLen {
		return "", invalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", invalid
	}
	key, ok := strings.CutPrefix(string(raw), listing+":")
	if !ok || key == "" {
		return "", invalid
	}
	return key, nil
}

// page trims a listing read with a limit of size+1 to one page and returns
// the token of the next page, keyed on its last item ("" on the last page).
func page[T any](items []T, size int, listing string, key func(T) string) ([]T, string) {
	if len(items) <= size {
		return items, ""
	}
	items = items[:size]
	return items, encodePageToken(listing, key(items[size-1]))
}
