// Package password hashes and verifies passwords with argon2id.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The argon2id parameters: OWASP's recommendation of 19 MiB, 2 passes, one
// lane. Stored hashes record their parameters, so raising them later keeps
// old hashes verifiable.
const (
	memoryKiB = 19 * 1024
	passes    = 2
	lanes     = 1
	saltLen   = 16
	keyLen    = 32
)

// concurrent bounds how many hashes run at once, so a burst of sign-ins
// cannot claim more than concurrent x 19 MiB of memory.
var concurrent = make(chan struct{}, 4)

// Hash returns a PHC-formatted argon2id hash of password with a fresh salt.
func Hash(password string) ([]byte, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("read salt: %w", err)
	}
	key := derive(password, salt, passes, memoryKiB, lanes, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Appendf(nil, "$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, passes, lanes, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify reports whether password matches a hash made by Hash.
func Verify(hash []byte, password string) (bool, error) {
	parts := strings.Split(string(hash), "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("unknown password hash format")
	}
	var version int
	var memory, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("unknown argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil {
		return false, fmt.Errorf("parse argon2 parameters: %w", err)
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("decode salt: %w", err)
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("decode key: %w", err)
	}
	got := derive(password, salt, time, memory, threads, uint32(len(want))) //nolint:gosec // a key decoded from a hash we wrote: 32 bytes, far below 2^32
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func derive(password string, salt []byte, time, memory uint32, threads uint8, n uint32) []byte {
	concurrent <- struct{}{}
	defer func() { <-concurrent }()
	return argon2.IDKey([]byte(password), salt, time, memory, threads, n)
}
