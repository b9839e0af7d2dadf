package password

import (
	"strings"
	"sync"

	"github.com/trustelem/zxcvbn/frequency"
)

// CommonCount is how many of the most used passwords IsCommon refuses: the
// top of the ranked list that zxcvbn ships (github.com/trustelem/zxcvbn,
// from Mark Burnett's 10 million leaked passwords), used as it is in the
// module, never copied into this repository.
const CommonCount = 10_000

// common is the top CommonCount passwords, built on first use. The list is
// lowercase, and so are the lookups.
var common = sync.OnceValue(func() map[string]struct{} {
	ranked := frequency.FrequencyLists["passwords"]
	m := make(map[string]struct{}, CommonCount)
	for _, p := range ranked[:min(CommonCount, len(ranked))] {
		m[p] = struct{}{}
	}
	return m
})

// IsCommon reports whether password, ignoring case, is one of the
// CommonCount most used passwords.
func IsCommon(password string) bool {
	_, ok := common()[strings.ToLower(password)]
	return ok
}
