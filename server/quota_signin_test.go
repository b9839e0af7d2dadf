package server_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/internal/testserver"
	"github.com/parley-chat/parley/server"
)

// guessTally counts how sign-in attempts were answered.
type guessTally struct {
	checked, refused, other atomic.Int32 // unauthenticated, resource_exhausted, anything else
}

func (g *guessTally) guess(ctx context.Context, c testserver.Client, username string, i int) {
	_, err := c.Services("").Auth.SignIn(ctx, connect.NewRequest(&parleyv1.SignInRequest{Username: username, Password: fmt.Sprintf("guess-%04d", i)}))
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated:
		g.checked.Add(1) // reached the password check
	case connect.CodeResourceExhausted:
		g.refused.Add(1)
	default:
		g.other.Add(1)
	}
}

// signInAs signs in and fails the test if it does not work.
func signInAs(t *testing.T, ctx context.Context, c testserver.Client, username string) time.Duration {
	t.Helper()
	start := time.Now()
	_, err := c.Services("").Auth.SignIn(ctx, connect.NewRequest(&parleyv1.SignInRequest{Username: username, Password: testserver.Password}))
	if err != nil {
		t.Errorf("%s signing in from %s: %v", username, c.Name, err)
	}
	return time.Since(start)
}

// TestSignInBruteForceFromOneAddress: 100 wrong passwords for one user in
// one second from one address, with parleyd's default limits. Most are
// refused before any password is checked, while the real user signs in
// from two other addresses (the one they signed up from, and a new one)
// throughout.
func TestSignInBruteForceFromOneAddress(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, server.WithLimits(server.DefaultLimits()))
	base := srv.Client(t, "connect/proto/h2c")
	home, attacker, travel := base.From("127.0.0.2"), base.From("127.0.0.1"), base.From("127.0.0.3")
	ctx := t.Context()
	if _, err := home.Services("").Auth.SignUp(ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: "victim", Password: testserver.Password})); err != nil {
		t.Fatal(err)
	}

	var tally guessTally
	var guesses sync.WaitGroup
	start := time.Now()
	var last atomic.Int64 // when the last guess was sent, since start
	for i := range 100 {
		guesses.Go(func() {
			time.Sleep(time.Until(start.Add(time.Duration(i) * 10 * time.Millisecond)))
			last.Store(int64(time.Since(start)))
			tally.guess(ctx, attacker, "victim", i)
		})
	}
	var slowest time.Duration
	for range 2 { // the victim, while the guesses are answered
		for _, c := range []testserver.Client{home, travel} {
			slowest = max(slowest, signInAs(t, ctx, c, "victim"))
		}
	}
	guesses.Wait()
	sent := time.Duration(last.Load())
	t.Logf("100 wrong passwords sent within %v from 127.0.0.1: %d reached a password check, %d refused with resource_exhausted, %d other; the victim signed in 4 times meanwhile from 127.0.0.2 and 127.0.0.3, slowest %v",
		sent.Round(time.Millisecond), tally.checked.Load(), tally.refused.Load(), tally.other.Load(), slowest.Round(time.Millisecond))
	limits := server.DefaultLimits()
	if n := int(tally.checked.Load()); n > limits.SignInFailuresPerIPUser.Burst+1 {
		t.Errorf("%d guesses reached a password check, want at most the burst of %d (+1 for refill)", n, limits.SignInFailuresPerIPUser.Burst)
	}
	if n := tally.other.Load(); n > 0 {
		t.Errorf("%d guesses answered with neither unauthenticated nor resource_exhausted", n)
	}
	if sent > 2*time.Second {
		t.Logf("the machine is slow: the guesses took %v to send, not 1 s", sent)
	}
}

// TestSignInGuessingFromManyAddresses: 30 addresses guess one user's
// password, 3 each, under the default limits but for a per-username burst
// of 20 (100 by default; fewer password hashes keep the test short). The
// per-username limit stops them after about 20 checks in all; the user
// still signs in from the address they signed up from (known for them),
// while a new address is refused until the limit refills: the price of not
// letting a botnet guess on. The clock stands still, so the limit does not
// refill while a slow machine hashes the guesses.
func TestSignInGuessingFromManyAddresses(t *testing.T) {
	t.Parallel()
	limits := server.DefaultLimits()
	limits.SignInFailuresPerUser.Burst = 20
	stopped := time.Now()
	srv := testserver.Start(t, server.WithLimits(limits), server.WithNow(func() time.Time { return stopped }))
	base := srv.Client(t, "connect/proto/h2c")
	home := base.From("127.0.0.2")
	ctx := t.Context()
	if _, err := home.Services("").Auth.SignUp(ctx, connect.NewRequest(&parleyv1.SignUpRequest{Username: "victim", Password: testserver.Password})); err != nil {
		t.Fatal(err)
	}
	var tally guessTally
	var guesses sync.WaitGroup
	for a := range 30 {
		c := base.From(fmt.Sprintf("127.0.1.%d", a+1))
		guesses.Go(func() {
			for i := range 3 {
				tally.guess(ctx, c, "victim", a*10+i)
			}
		})
	}
	guesses.Wait()
	took := signInAs(t, ctx, home, "victim")
	_, err := base.From("127.0.0.9").Services("").Auth.SignIn(ctx, connect.NewRequest(&parleyv1.SignInRequest{Username: "victim", Password: testserver.Password}))
	delay := wantRetry(t, err, 0)
	t.Logf("90 wrong passwords from 30 addresses: %d reached a password check, %d refused, %d other; the victim signed in from 127.0.0.2 in %v, and from the new 127.0.0.9 was told to retry in %v",
		tally.checked.Load(), tally.refused.Load(), tally.other.Load(), took.Round(time.Millisecond), delay)
	if n := int(tally.checked.Load()); n > limits.SignInFailuresPerUser.Burst+5 {
		t.Errorf("%d guesses reached a password check, want about the per-username burst of %d", n, limits.SignInFailuresPerUser.Burst)
	}
}

// TestCommonPasswordsRefused: SignUp refuses the most used passwords, in
// any case, with a field violation on password, on every protocol.
func TestCommonPasswordsRefused(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	for _, protocol := range rpcProtocols {
		t.Run(protocol, func(t *testing.T) {
			t.Parallel()
			auth := srv.Client(t, protocol).Services("").Auth
			for i, pass := range []string{"12345678", "password", "password1", "Password1", "iloveyou1", "qwertyuiop"} {
				_, err := auth.SignUp(t.Context(), connect.NewRequest(&parleyv1.SignUpRequest{Username: fmt.Sprintf("weak%d-%d", i, len(protocol)), Password: pass}))
				wantFieldViolations(t, err, "password")
			}
		})
	}
}
