package testserver

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
)

// RandomContent returns n bytes of file content, the same on every run,
// and their SHA-256 as an upload announces it.
func RandomContent(n int) ([]byte, string) {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(b)
	return b, SHA256Hex(b)
}

// SHA256Hex returns the SHA-256 of b in lowercase hex.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
