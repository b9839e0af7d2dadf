package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // client-side health checking for round_robin
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/parley-chat/parley/client"
	parleyv1 "github.com/parley-chat/parley/gen/parley/v1"
	"github.com/parley-chat/parley/gen/parley/v1/parleyv1connect"
	"github.com/parley-chat/parley/internal/pgtest"
	"github.com/parley-chat/parley/internal/testserver"
)

// replica is one parleyd child process on the shared database. It keeps
// its address across restarts, as a replica behind a fixed list would.
type replica struct {
	t    *testing.T
	name string // also its application_name in pg_stat_activity
	db   string
	addr string
	args []string // more flags

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startReplicas starts n replicas on one database, named for prefix, the
// process and their index, with any further flags in args.
func startReplicas(t *testing.T, prefix string, n int, dbURL string, args ...string) []*replica {
	t.Helper()
	var replicas []*replica
	for i := range n {
		replicas = append(replicas, startReplica(t, fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), i), dbURL, args...))
	}
	return replicas
}

// startReplica starts parleyd on a free port with --db dbURL and any
// further flags in args.
func startReplica(t *testing.T, name, dbURL string, args ...string) *replica {
	t.Helper()
	r := &replica{t: t, name: name, db: dbURL + "&application_name=" + name, addr: "127.0.0.1:0", args: args}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *replica) url() string { return "http://" + r.address() }

// address returns host:port; it stays the same across restarts.
func (r *replica) address() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

func (r *replica) start() {
	r.t.Helper()
	// One user sends 100 messages a second: not a test of the send limit.
	args := append([]string{"--addr", r.address(), "--admin-addr", "none", "--db", r.db, "--data-dir", r.t.TempDir(),
		"--log-level", "warn", "--shutdown-timeout", "5s", "--limit-sends-per-user", "off"}, r.args...)
	cmd, u := execChild(r.t, args, nil, func(line string) {
		fmt.Fprintf(os.Stderr, "%s: %s\n", r.name, line) // warnings
	})
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	r.mu.Lock()
	r.addr, r.cmd, r.done = strings.TrimPrefix(u, "http://"), cmd, done
	r.mu.Unlock()
}

// stop sends SIGTERM and waits for the process to exit.
func (r *replica) stop() {
	r.t.Helper()
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		r.t.Errorf("%s did not exit within 15s of SIGTERM", r.name)
		<-done
	}
}

func (r *replica) kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		<-done
	}
}

// cluster is a room on several replicas with users who belong to it.
type cluster struct {
	replicas []*replica
	hc       *http.Client
	roomID   string
	tokens   []string
	joins    int64 // the room log's first events: the users joining
}

// setUpRoom signs up users through the first replica; the first creates a
// public room and the others join it.
func setUpRoom(t *testing.T, replicas []*replica, users int) *cluster {
	t.Helper()
	c := &cluster{replicas: replicas, hc: testserver.H2CClient()}
	first := testserver.Client{Client: c.hc, BaseURL: replicas[0].url()}
	for i := range users {
		u := testserver.SignUp(t, first, fmt.Sprintf("user%02d", i))
		c.tokens = append(c.tokens, u.Token)
		u = u.Via(testserver.Client{Client: c.hc, BaseURL: replicas[i%len(replicas)].url()})
		if i == 0 {
			c.roomID = u.CreateRoom(t, "replicas", parleyv1.Visibility_VISIBILITY_PUBLIC).GetId()
			continue
		}
		u.JoinRoom(t, c.roomID)
		c.joins++
	}
	return c
}

// roundRobin returns a grpc-go connection that spreads calls over the
// replicas with round_robin, skipping those whose health is not SERVING.
// The replicas keep their addresses across restarts, so a static list from
// a manual resolver is enough.
func roundRobin(t *testing.T, replicas []*replica) *grpc.ClientConn {
	t.Helper()
	res := manual.NewBuilderWithScheme("parley")
	var addrs []resolver.Address
	for _, r := range replicas {
		addrs = append(addrs, resolver.Address{Addr: r.address()})
	}
	res.InitialState(resolver.State{Addresses: addrs})
	conn, err := grpc.NewClient(res.Scheme()+":///parleyd",
		grpc.WithResolvers(res),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{
			"loadBalancingConfig": [{"round_robin": {}}],
			"healthCheckConfig": {"serviceName": ""}
		}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// ledger records what was acknowledged.
type ledger struct {
	mu       sync.Mutex
	acked    map[int64]string // seq -> message id
	byPeer   map[string]int
	retries  int
	errs     map[codes.Code]int // of the attempts that were retried
	failures int
	ackTimes map[int64]time.Time
}

func newLedger() *ledger {
	return &ledger{acked: map[int64]string{}, byPeer: map[string]int{}, errs: map[codes.Code]int{}, ackTimes: map[int64]time.Time{}}
}

func (l *ledger) maxAcked() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var m int64
	for seq := range l.acked {
		m = max(m, seq)
	}
	return m
}

func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// send sends one message over conn, retrying with the same client message
// id on failure (that is what makes retries safe) for up to 20 seconds.
func (l *ledger) send(ctx context.Context, conn *grpc.ClientConn, token, roomID, id string) {
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	deadline := time.Now().Add(20 * time.Second)
	for attempt := 0; ; attempt++ {
		var p peer.Peer
		res := new(parleyv1.SendMessageResponse)
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := conn.Invoke(callCtx, parleyv1connect.MessageServiceSendMessageProcedure,
			&parleyv1.SendMessageRequest{RoomId: roomID, Text: "text of " + id, ClientMessageId: id}, res, grpc.Peer(&p))
		cancel()
		if err == nil {
			l.mu.Lock()
			seq := res.GetMessage().GetSeq()
			if prev, dup := l.acked[seq]; dup && prev != res.GetMessage().GetId() {
				panic(fmt.Sprintf("seq %d acknowledged for two messages", seq))
			}
			l.acked[seq] = res.GetMessage().GetId()
			l.ackTimes[seq] = time.Now()
			if p.Addr != nil {
				l.byPeer[p.Addr.String()]++
			}
			l.retries += attempt
			l.mu.Unlock()
			return
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			l.mu.Lock()
			l.failures++
			l.mu.Unlock()
			return
		}
		c := status.Code(err)
		if c != codes.Unavailable && c != codes.DeadlineExceeded {
			// Anything else is a bug, not a replica coming or going.
			panic(fmt.Sprintf("send %s: %v", id, err))
		}
		l.mu.Lock()
		l.errs[c]++
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

// subscriber follows the room from since_seq 0, on one replica and then, if
// its stream ends, on the next, resuming from the last seq it saw.
type subscriber struct {
	name      string
	failover  bool
	mu        sync.Mutex
	seqs      []int64
	ids       []string
	streams   int
	holes     []string
	lastEvent time.Time
}

func (s *subscriber) last() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seqs) == 0 {
		return 0
	}
	return s.seqs[len(s.seqs)-1]
}

// followAll follows the room with two subscribers per replica, each as
// another user, until ctx ends; with failover they move to another
// replica when their stream ends. followers.Wait waits for them to stop.
func (c *cluster) followAll(ctx context.Context, failover bool) (subs []*subscriber, followers *sync.WaitGroup) {
	followers = new(sync.WaitGroup)
	for i := range 2 * len(c.replicas) {
		name := fmt.Sprintf("subscriber %d on %s", i, c.replicas[i%len(c.replicas)].name)
		if failover {
			name = fmt.Sprintf("subscriber %d (first on %s)", i, c.replicas[i%len(c.replicas)].name)
		}
		s := &subscriber{name: name, failover: failover}
		subs = append(subs, s)
		followers.Go(func() { c.follow(ctx, s, c.tokens[i], i%len(c.replicas)) })
	}
	return subs, followers
}

// allAt reports whether every subscriber has reached seq head.
func allAt(subs []*subscriber, head int64) func() bool {
	return func() bool {
		for _, s := range subs {
			if s.last() < head {
				return false
			}
		}
		return true
	}
}

func (c *cluster) follow(ctx context.Context, s *subscriber, token string, first int) {
	for i := first; ctx.Err() == nil; {
		r := c.replicas[i%len(c.replicas)]
		client := parleyv1connect.NewMessageServiceClient(c.hc, r.url(), connect.WithGRPC(), testserver.WithToken(token))
		stream, err := client.Subscribe(ctx, connect.NewRequest(&parleyv1.SubscribeRequest{RoomId: c.roomID, SinceSeq: s.last()}))
		if err == nil {
			s.mu.Lock()
			s.streams++
			s.mu.Unlock()
			for stream.Receive() {
				e, ok := testserver.EntryOf(stream.Msg())
				if !ok {
					continue
				}
				id := e.Kind // a member event
				if m := stream.Msg().GetMessage(); m != nil {
					id = m.GetId()
				}
				s.mu.Lock()
				want := int64(len(s.seqs)) + 1
				if e.Seq != want {
					s.holes = append(s.holes, fmt.Sprintf("got seq %d from %s, want %d", e.Seq, r.name, want))
				}
				s.seqs = append(s.seqs, e.Seq)
				s.ids = append(s.ids, id)
				s.lastEvent = time.Now()
				s.mu.Unlock()
			}
			_ = stream.Close()
		}
		if ctx.Err() != nil {
			return
		}
		if s.failover {
			i++
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor polls cond every 10ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// checkSubscribers fails the test unless every subscriber saw exactly
// seqs 1..head, in order, with the same message ids, including every
// acknowledged one.
func checkSubscribers(t *testing.T, subs []*subscriber, l *ledger, head int64) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var reference []string
	for _, s := range subs {
		s.mu.Lock()
		if len(s.holes) > 0 {
			t.Errorf("%s: %d out-of-order deliveries, first: %s", s.name, len(s.holes), s.holes[0])
		}
		want := make([]int64, head)
		for i := range want {
			want[i] = int64(i + 1)
		}
		if !slices.Equal(s.seqs, want) {
			t.Errorf("%s: saw %d events (last %d), want exactly seqs 1..%d", s.name, len(s.seqs), s.seqs[len(s.seqs)-1], head)
		}
		if reference == nil {
			reference = s.ids
		} else if !slices.Equal(s.ids, reference) {
			t.Errorf("%s: message ids differ from %s's", s.name, subs[0].name)
		}
		for seq, id := range l.acked {
			if seq > int64(len(s.ids)) || s.ids[seq-1] != id {
				t.Errorf("%s: acknowledged seq %d (%s) missing", s.name, seq, id)
				break
			}
		}
		s.mu.Unlock()
	}
}

// headSeq reads the room's head through a replica.
func (c *cluster) headSeq(t *testing.T, r *replica) int64 {
	t.Helper()
	client := parleyv1connect.NewMessageServiceClient(c.hc, r.url(), testserver.WithToken(c.tokens[0]))
	var limit int32 = 1
	res, err := client.ListMessages(t.Context(), connect.NewRequest(&parleyv1.ListMessagesRequest{RoomId: c.roomID, Limit: limit}))
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	return res.Msg.GetHeadSeq()
}

// TestReplicasDeliverInOrder runs three replicas on one database, 20
// senders whose calls a round_robin grpc-go client spreads over them, and
// two subscribers on every replica: every subscriber must see the same
// contiguous seqs in the same order, including every acknowledged message.
func TestReplicasDeliverInOrder(t *testing.T) {
	t.Parallel()
	_, db := pgtest.Schema(t, 8)
	replicas := startReplicas(t, "ledger", 3, db)
	const senders, perSender = 20, 25
	c := setUpRoom(t, replicas, senders)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs, followers := c.followAll(ctx, false)

	conn := roundRobin(t, replicas)
	l := newLedger()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for i := range perSender {
				l.send(ctx, conn, c.tokens[w], c.roomID, fmt.Sprintf("s%02d-%03d", w, i))
			}
		})
	}
	wg.Wait()
	sent := time.Since(start)
	total := c.joins + senders*perSender
	if !waitFor(30*time.Second, allAt(subs, total)) {
		t.Error("subscribers did not all reach the head within 30s")
	}
	delivered := time.Since(start)
	cancel()
	followers.Wait()

	if l.failures > 0 || l.count() != senders*perSender {
		t.Errorf("%d acknowledged, %d failed; want %d and 0", l.count(), l.failures, senders*perSender)
	}
	if len(l.byPeer) != len(replicas) {
		t.Errorf("sends went to %d replicas (%v), want all %d", len(l.byPeer), l.byPeer, len(replicas))
	}
	if head := c.headSeq(t, replicas[1]); head != total {
		t.Errorf("head = %d, want %d", head, total)
	}
	checkSubscribers(t, subs, l, total)
	t.Logf("%d messages acknowledged in %v (spread %v, %d retries); %d subscribers each saw seqs 1..%d within %v",
		l.count(), sent.Round(time.Millisecond), l.byPeer, l.retries, len(subs), total, delivered.Round(time.Millisecond))
}

// TestRollingRestartLosesNothing sends about 200 messages a second through
// round_robin while each of three replicas in turn is stopped with SIGTERM
// and started again a second later. No acknowledged message may be lost, and every
// subscriber, moving to another replica when its stream ends, must end with
// the full sequence.
func TestRollingRestartLosesNothing(t *testing.T) {
	t.Parallel()
	_, db := pgtest.Schema(t, 8)
	replicas := startReplicas(t, "rolling", 3, db)
	const senders, rate = 20, 200 // messages a second, offered whatever the latency
	c := setUpRoom(t, replicas, senders)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs, followers := c.followAll(ctx, true)

	conn := roundRobin(t, replicas)
	l := newLedger()
	load, stopLoad := context.WithCancel(ctx)
	var (
		wg      sync.WaitGroup
		offered atomic.Int64
	)
	wg.Go(func() {
		inFlight := make(chan struct{}, 100)
		begin := time.Now()
		for n := 0; ; n++ {
			// Paced against the start, so a late wake-up sends the
			// messages that were due rather than dropping them.
			due := begin.Add(time.Duration(n) * time.Second / rate)
			select {
			case <-load.Done():
				return
			case <-time.After(time.Until(due)):
			}
			inFlight <- struct{}{}
			offered.Add(1)
			wg.Go(func() {
				defer func() { <-inFlight }()
				w := n % senders
				l.send(ctx, conn, c.tokens[w], c.roomID, fmt.Sprintf("s%02d-%05d", w, n))
			})
		}
	})

	start := time.Now()
	time.Sleep(time.Second)
	type window struct {
		name          string
		down, back    time.Duration
		ackedDuring   int
		before, after int
		// offeredDuring counts the sends started while the replica stopped and was down.
		offeredDuring int64
	}
	var windows []window
	for _, r := range replicas {
		w := window{name: r.name, before: l.count()}
		t0 := time.Now()
		offeredBefore := offered.Load()
		r.stop()
		w.down = time.Since(t0)
		time.Sleep(time.Second) // a deploy takes a while
		w.offeredDuring = offered.Load() - offeredBefore
		r.start()
		w.back = time.Since(t0)
		w.after = l.count()
		w.ackedDuring = w.after - w.before
		windows = append(windows, w)
		time.Sleep(time.Second)
	}
	stopLoad()
	wg.Wait()
	elapsed := time.Since(start)

	head := c.headSeq(t, replicas[0])
	if !waitFor(30*time.Second, allAt(subs, head)) {
		t.Errorf("subscribers did not all reach head %d within 30s", head)
	}
	cancel()
	followers.Wait()

	if l.failures > 0 {
		t.Errorf("%d sends failed for 20s despite retries", l.failures)
	}
	if int64(l.count()) != head-c.joins {
		t.Errorf("%d acknowledged, head %d after %d joins: some stored messages were never acknowledged (a send gave up)", l.count(), head, c.joins)
	}
	checkSubscribers(t, subs, l, head)
	t.Logf("%d messages offered, %d acknowledged in %v (%.0f/s, %d retries %v, %d failures, spread %v)",
		offered.Load(), l.count(), elapsed.Round(time.Millisecond), float64(l.count())/elapsed.Seconds(), l.retries, l.errs, l.failures, l.byPeer)
	for _, w := range windows {
		t.Logf("restart of %s: SIGTERM to exit %v, to listening again %v, %d messages offered while it stopped and was down, %d acknowledged meanwhile",
			w.name, w.down.Round(time.Millisecond), w.back.Round(time.Millisecond), w.offeredDuring, w.ackedDuring)
		// This is a test of losing nothing, not of speed: the rate the
		// generator keeps on a loaded machine (or under -race) is only
		// logged. What it must do is send across every restart, or the
		// restart was not tested.
		if w.offeredDuring == 0 {
			t.Errorf("no message was offered while %s was down: the restart was not under load", w.name)
		}
	}
	for _, s := range subs {
		t.Logf("%s: %d events over %d streams", s.name, len(s.seqs), s.streams)
	}
}

// serveTCP listens on a free loopback port until the test ends and hands
// each connection to serve, on a goroutine of its own.
func serveTCP(t *testing.T, serve func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(in)
		}
	}()
	return ln
}

// splice copies between in and out both ways until in's peer is done.
func splice(in, out net.Conn) {
	go func() { _, _ = io.Copy(out, in); out.Close() }()
	_, _ = io.Copy(in, out)
}

// TestReplicaRecoversFromDatabaseCut runs two replicas, the second reaching
// the database through a proxy, sends through both with round_robin and
// follows the room on the second only. First its database backends are
// terminated; then the database is unreachable for it for 3 seconds. Each
// time it must recover by itself and its subscriber catch up; while the
// database is unreachable its health must say NOT_SERVING and its calls fail
// with unavailable rather than hang, while the other replica takes the load.
func TestReplicaRecoversFromDatabaseCut(t *testing.T) {
	t.Parallel()
	_, db := pgtest.Schema(t, 8)
	proxy, viaProxy := pgtest.StartProxy(t, db)
	a := startReplica(t, fmt.Sprintf("cut-a-%d", os.Getpid()), db)
	b := startReplica(t, fmt.Sprintf("cut-b-%d", os.Getpid()), viaProxy)
	replicas := []*replica{a, b}
	c := setUpRoom(t, replicas, 2)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := &subscriber{name: "subscriber on " + b.name}
	var followers sync.WaitGroup
	followers.Go(func() { c.follow(ctx, sub, c.tokens[1], 1) })

	conn := roundRobin(t, replicas)
	l := newLedger()
	load, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			tick := time.NewTicker(40 * time.Millisecond) // 2 x 25/s
			defer tick.Stop()
			for i := 0; load.Err() == nil; i++ {
				l.send(ctx, conn, c.tokens[w], c.roomID, fmt.Sprintf("s%d-%05d", w, i))
				select {
				case <-load.Done():
				case <-tick.C:
				}
			}
		})
	}
	caughtUp := func(timeout time.Duration) (time.Duration, bool) {
		start := time.Now()
		target := l.maxAcked()
		ok := waitFor(timeout, func() bool { return sub.last() >= target })
		return time.Since(start), ok
	}
	time.Sleep(time.Second)
	if _, ok := caughtUp(10 * time.Second); !ok {
		t.Fatal("subscriber on b never caught up before the cut")
	}

	// 1. Terminate b's backends, the LISTEN connection included.
	admin := pgtest.Connect(t)
	var killed int
	cutAt := time.Now()
	if err := admin.QueryRow(t.Context(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, b.name).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminated %d backends of b: %v", killed, err)
	}
	time.Sleep(200 * time.Millisecond) // messages sent after the cut
	afterCut := l.maxAcked()
	if !waitFor(15*time.Second, func() bool { return sub.last() >= afterCut }) {
		t.Errorf("after terminating %d backends: subscriber on b stuck at %d, want %d", killed, sub.last(), afterCut)
	}
	terminateRecovery := time.Since(cutAt)
	listening := func() bool {
		var n int
		_ = admin.QueryRow(t.Context(),
			`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`, b.name).Scan(&n)
		return n == 1
	}
	if !waitFor(10*time.Second, listening) {
		t.Error("b did not LISTEN again after its backend was terminated")
	}
	listenBack := time.Since(cutAt)

	// 2. The database is unreachable for b for 3 seconds.
	health := grpchealth.NewClient(c.hc, b.url(), connect.WithGRPC())
	status := func() grpchealth.Status {
		res, err := health.Check(t.Context(), &grpchealth.CheckRequest{})
		if err != nil {
			return 0
		}
		return res.Status
	}
	proxy.Cut()
	outageAt := time.Now()
	if !waitFor(10*time.Second, func() bool { return status() == grpchealth.StatusNotServing }) {
		t.Error("b's health did not turn NOT_SERVING while its database was unreachable")
	}
	notServingAfter := time.Since(outageAt)
	direct := parleyv1connect.NewMessageServiceClient(c.hc, b.url(), testserver.WithToken(c.tokens[1]))
	callStart := time.Now()
	_, err := direct.SendMessage(t.Context(), connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: c.roomID, Text: "during outage", ClientMessageId: "outage"}))
	callTook := time.Since(callStart)
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("SendMessage on b during the outage: %v, want unavailable", err)
	}
	if callTook > 7*time.Second {
		t.Errorf("SendMessage on b during the outage took %v", callTook)
	}
	time.Sleep(3*time.Second - time.Since(outageAt))
	sentDuringOutage := l.maxAcked()
	proxy.Restore()
	restoredAt := time.Now()
	var caughtUpAfter time.Duration
	var catchUp sync.WaitGroup
	catchUp.Go(func() {
		if !waitFor(15*time.Second, func() bool { return sub.last() >= sentDuringOutage }) {
			t.Errorf("after the outage: subscriber on b stuck at %d, want %d", sub.last(), sentDuringOutage)
		}
		caughtUpAfter = time.Since(restoredAt)
	})
	if !waitFor(15*time.Second, func() bool { return status() == grpchealth.StatusServing }) {
		t.Error("b's health did not turn SERVING again")
	}
	servingAfter := time.Since(restoredAt)
	catchUp.Wait()
	res, err := direct.SendMessage(t.Context(), connect.NewRequest(&parleyv1.SendMessageRequest{RoomId: c.roomID, Text: "after outage", ClientMessageId: "after-outage"}))
	if err != nil {
		t.Errorf("SendMessage on b after the outage: %v", err)
	} else {
		l.mu.Lock()
		l.acked[res.Msg.GetMessage().GetSeq()] = res.Msg.GetMessage().GetId()
		l.mu.Unlock()
	}

	time.Sleep(time.Second) // b takes its share again
	stopLoad()
	wg.Wait()
	head := c.headSeq(t, a)
	if !waitFor(15*time.Second, func() bool { return sub.last() >= head }) {
		t.Errorf("subscriber on b ended at %d, want head %d", sub.last(), head)
	}
	cancel()
	followers.Wait()
	if l.failures > 0 {
		t.Errorf("%d sends failed for 20s despite retries", l.failures)
	}
	checkSubscribers(t, []*subscriber{sub}, l, head)
	t.Logf("terminated %d backends of b: its subscriber caught up in %v, LISTEN back after %v", killed, terminateRecovery.Round(time.Millisecond), listenBack.Round(time.Millisecond))
	t.Logf("3s outage for b: NOT_SERVING after %v, a send on b failed with unavailable in %v; after restore SERVING in %v, subscriber caught up in %v",
		notServingAfter.Round(time.Millisecond), callTook.Round(time.Millisecond), servingAfter.Round(time.Millisecond), caughtUpAfter.Round(time.Millisecond))
	t.Logf("%d messages acknowledged through round_robin over a (%s) and b (%s) (%d retries %v, spread %v); subscriber on b saw 1..%d over %d streams",
		l.count(), a.address(), b.address(), l.retries, l.errs, l.byPeer, head, sub.streams)
}

func TestDBFlag(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PARLEY_DB": "postgres://db.example/parley"}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.db != "postgres://db.example/parley" {
		t.Errorf("PARLEY_DB: cfg.db = %q, %v", cfg.db, err)
	}
	cfg, err = parseConfig([]string{"--db", "postgresql://other/x"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.db != "postgresql://other/x" {
		t.Errorf("--db over PARLEY_DB: cfg.db = %q, %v", cfg.db, err)
	}
	err = run(t.Context(), []string{"--addr", "127.0.0.1:0", "--admin-addr", "none", "--db", "mysql://x/y"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Errorf("run with a mysql URL: %v, want an error naming postgres://", err)
	}
}

// balancer is a round-robin TCP load balancer in front of replicas: each
// new connection goes to the next replica that accepts it.
type balancer struct {
	ln       net.Listener
	replicas []*replica

	mu       sync.Mutex
	next     int
	accepted map[string]int // replica name -> connections
}

func startBalancer(t *testing.T, replicas []*replica) *balancer {
	t.Helper()
	b := &balancer{replicas: replicas, accepted: map[string]int{}}
	b.ln = serveTCP(t, b.serve)
	return b
}

func (b *balancer) serve(in net.Conn) {
	defer in.Close()
	for range b.replicas {
		b.mu.Lock()
		r := b.replicas[b.next%len(b.replicas)]
		b.next++
		b.mu.Unlock()
		out, err := net.Dial("tcp", r.address())
		if err != nil {
			continue // down: try the next one
		}
		b.mu.Lock()
		b.accepted[r.name]++
		b.mu.Unlock()
		splice(in, out)
		return
	}
}

// TestGoClientFollowsReplicasBehindBalancer puts three replicas behind a
// round-robin balancer and uses the Parley Go client through it: while
// every replica is restarted in turn, SendMessage retries under the same
// client message id and the Subscription reconnects, through the balancer
// to another replica, resuming after the last seq it delivered. It must end
// with every message, once, in order.
func TestGoClientFollowsReplicasBehindBalancer(t *testing.T) {
	t.Parallel()
	_, db := pgtest.Schema(t, 8)
	replicas := startReplicas(t, "balanced", 3, db)
	lb := startBalancer(t, replicas)
	followReplicas(t, replicas, "http://"+lb.ln.Addr().String())
	lb.mu.Lock()
	defer lb.mu.Unlock()
	conns := 0
	for _, n := range lb.accepted {
		conns += n
	}
	if conns <= 2 {
		t.Errorf("the balancer saw %d connections: the two clients never reconnected", conns)
	}
	t.Logf("connections per replica through the balancer: %v", lb.accepted)
}

// TestGoClientFailsOverToAnotherReplica is the same without a balancer:
// the client is given every replica's address (client.WithReplicas) and
// moves to the next one itself when its replica goes away.
func TestGoClientFailsOverToAnotherReplica(t *testing.T) {
	t.Parallel()
	_, db := pgtest.Schema(t, 8)
	replicas := startReplicas(t, "listed", 3, db)
	var urls []string
	for _, r := range replicas {
		urls = append(urls, "http://"+r.addr)
	}
	c := followReplicas(t, replicas, urls[0], client.WithReplicas(urls[1:]...))

	// With the first replica gone for good, a new client given the same
	// list still gets its message through.
	replicas[0].stop()
	cl, err := client.New(urls[0], client.WithReplicas(urls[1:]...), client.WithToken(c.tokens[0]), client.WithBackoff(20*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SendMessage(context.Background(), c.roomID, "after failover"); err != nil {
		t.Fatalf("SendMessage with the first replica down: %v", err)
	}
}

// followReplicas restarts every replica in turn while one client sends and
// another follows the room, both through baseURL (with opts); the follower
// must end with every message, once, in order.
func followReplicas(t *testing.T, replicas []*replica, baseURL string, opts ...client.Option) *cluster {
	t.Helper()
	c := setUpRoom(t, replicas, 2)
	newClient := func(token string) *client.Client {
		cl, err := client.New(baseURL, append([]client.Option{client.WithToken(token), client.WithBackoff(20*time.Millisecond, 500*time.Millisecond)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	sub := newClient(c.tokens[1]).Subscribe(ctx, c.roomID, 0)
	defer sub.Close()
	var (
		mu   sync.Mutex
		seen []int64
		ids  []string
	)
	var following sync.WaitGroup
	following.Go(func() {
		for sub.Receive() {
			if ev := sub.Event(); ev.Kind.Logged() {
				id := ev.User.ID // a member event
				if ev.Message != nil {
					id = ev.Message.ID
				}
				mu.Lock()
				seen = append(seen, ev.Seq)
				ids = append(ids, id)
				mu.Unlock()
			}
		}
	})

	sender := newClient(c.tokens[0])
	acked := map[int64]string{}
	load, stopLoad := context.WithCancel(ctx)
	var sending sync.WaitGroup
	sending.Go(func() {
		for i := 0; load.Err() == nil; i++ {
			m, err := sender.SendMessage(ctx, c.roomID, fmt.Sprintf("message %d", i), client.WithClientMessageID(fmt.Sprintf("c%05d", i)))
			if err != nil {
				t.Errorf("SendMessage %d: %v", i, err)
				return
			}
			acked[m.Seq] = m.ID
			time.Sleep(10 * time.Millisecond)
		}
	})
	time.Sleep(500 * time.Millisecond)
	for _, r := range replicas {
		r.stop()
		time.Sleep(300 * time.Millisecond)
		r.start()
		time.Sleep(500 * time.Millisecond)
	}
	stopLoad()
	sending.Wait()
	head := c.headSeq(t, replicas[0])
	last := func() int64 {
		mu.Lock()
		defer mu.Unlock()
		return int64(len(seen))
	}
	if !waitFor(20*time.Second, func() bool { return last() >= head }) {
		t.Errorf("Subscription stuck after %d messages, head %d", last(), head)
	}
	cancel()
	following.Wait()

	mu.Lock()
	defer mu.Unlock()
	for i, seq := range seen {
		if seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: not 1..%d in order", i, seq, head)
		}
	}
	if int64(len(seen)) != head || int64(len(acked)) != head-c.joins {
		t.Errorf("saw %d, acknowledged %d, head %d after %d joins", len(seen), len(acked), head, c.joins)
	}
	for seq, id := range acked {
		if seq > int64(len(ids)) || ids[seq-1] != id {
			t.Errorf("acknowledged seq %d (%s) not delivered", seq, id)
		}
	}
	t.Logf("%d messages sent and received by one Subscription across 3 restarts", len(acked))
	return c
}
