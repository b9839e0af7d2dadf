package postgres

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley"
)

var _ parley.Broker = (*Broker)(nil)

// catchUpPage is how many logged events a catch-up reads per query.
const catchUpPage = 500

// Broker is a parley.Broker for several replicas on one database. It hands
// events to a local broker (inmem.Broker, say) for this process's
// subscribers, and adds the messages other replicas store:
//
//   - Publish, called by this process's server after commit, goes straight
//     to the local broker;
//   - one connection LISTENs on NotifyChannel; a notification (room, seq)
//     for a room with local subscribers makes the Broker read that room's
//     messages after the last seq it published, from the table, and publish
//     them in order. A lost or late notification therefore only delays a
//     message: the next notification, the next poll (WithPollInterval) or
//     the next reconnect reads it;
//   - the listening connection reconnects by itself with backoff and, once
//     back, catches up every room with local subscribers.
//
// Per room, the Broker publishes strictly increasing seqs. It may skip a
// seq (a message this process published after one another replica stored
// but the Broker had not read yet); server.Subscribe fills such holes from
// the store, so subscribers still see every message once, in order.
//
// Every logged kind (parley.EventKind.Logged: messages, edits, deletions)
// crosses replicas this way, read from the room log. The other kinds
// (member changes, typing, read markers) are seen live only by
// subscribers of the replica that served them. Revocations (revocation.go)
// cross too: the same connection LISTENs on RevocationChannel.
type Broker struct {
	store        *Store
	local        LocalBroker
	origin       string // tells this Broker's revocation notifications from others'
	logger       *slog.Logger
	pollInterval time.Duration
	minBackoff   time.Duration
	maxBackoff   time.Duration

	mu    sync.Mutex
	feeds map[string]*roomFeed
	dirty map[string]struct{} // rooms with news to read
	all   bool                // every room may have news (after a reconnect)
	wake  chan struct{}

	listening atomic.Bool // the listening connection is LISTENing

	stop context.CancelFunc
	done sync.WaitGroup
}

// roomFeed is the state of a room with local subscribers.
type roomFeed struct {
	subs int // guarded by Broker.mu

	mu   sync.Mutex // held while publishing, so seqs go out in order
	last int64      // seq of the last message published; -1 until known
}

// BrokerOption configures a Broker.
type BrokerOption interface {
	applyBroker(*Broker)
}

type brokerOptionFunc func(*Broker)

func (f brokerOptionFunc) applyBroker(b *Broker) { f(b) }

// WithLogger sets the logger for lost and regained database connections.
// By default, nothing is logged.
func WithLogger(l *slog.Logger) BrokerOption {
	return brokerOptionFunc(func(b *Broker) { b.logger = l })
}

// WithPollInterval sets how often the Broker reads the head seq of every
// room with local subscribers, in case a notification was lost. By default,
// 5 seconds.
func WithPollInterval(d time.Duration) BrokerOption {
	return brokerOptionFunc(func(b *Broker) {
		if d > 0 {
			b.pollInterval = d
		}
	})
}

// WithReconnectBackoff sets the first and the longest wait between attempts
// to re-establish the listening connection; the wait doubles on each
// failure. By default, 100 milliseconds and 5 seconds.
func WithReconnectBackoff(first, longest time.Duration) BrokerOption {
	return brokerOptionFunc(func(b *Broker) {
		if first > 0 && longest >= first {
			b.minBackoff, b.maxBackoff = first, longest
		}
	})
}

// NewBroker returns a Broker over store's database that delivers to the
// subscribers of local, and starts listening. Close it before the store.
func NewBroker(store *Store, local LocalBroker, opts ...BrokerOption) *Broker {
	b := &Broker{
		store:        store,
		local:        local,
		origin:       newID("b_"),
		logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		pollInterval: 5 * time.Second,
		minBackoff:   100 * time.Millisecond,
		maxBackoff:   5 * time.Second,
		feeds:        make(map[string]*roomFeed),
		dirty:        make(map[string]struct{}),
		wake:         make(chan struct{}, 1),
	}
	for _, o := range opts {
		o.applyBroker(b)
	}
	ctx, stop := context.WithCancel(context.Background())
	b.stop = stop
	b.done.Add(2)
	go b.listen(ctx)
	go b.deliver(ctx)
	return b
}

// Close stops listening. Subscriptions stay open but get nothing more
// from other replicas.
func (b *Broker) Close() error {
	b.stop()
	b.done.Wait()
	return nil
}

// Subscribe implements parley.Broker. The first local subscriber of a room
// reads the room's head seq, bounded by ctx, so the Broker knows where it
// starts; the subscriber itself replays everything up to a head it reads
// afterwards. If that read fails, so does Subscribe: EUNAVAILABLE when the
// database cannot be reached, ctx.Err() when ctx ended. Later subscribers
// of a room do not touch the database and fail only if ctx has ended.
func (b *Broker) Subscribe(ctx context.Context, roomID string) (parley.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	feed := b.feeds[roomID]
	first := feed == nil
	if first {
		feed = &roomFeed{last: -1}
		b.feeds[roomID] = feed
	}
	feed.subs++
	b.mu.Unlock()
	local, err := b.local.Subscribe(ctx, roomID)
	if err == nil && first {
		err = b.readStart(ctx, roomID, feed)
		if err != nil {
			local.Close()
		}
	}
	if err != nil {
		b.unsubscribe(roomID)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("subscribe to room %s: %w", roomID, err)
	}
	return &subscription{Subscription: local, broker: b, roomID: roomID}, nil
}

// readStart sets where a new feed starts: the room's head seq, unless a
// publish or the poll got there first. A room that does not exist (yet)
// starts wherever the first publish or poll puts it.
func (b *Broker) readStart(ctx context.Context, roomID string, feed *roomFeed) error {
	heads, err := b.store.headSeqs(ctx, []string{roomID})
	if err != nil {
		return err
	}
	if head, ok := heads[roomID]; ok {
		feed.mu.Lock()
		if feed.last < 0 {
			feed.last = head
		}
		feed.mu.Unlock()
	}
	return nil
}

// Publish implements parley.Broker: the event goes to local subscribers at
// once, unless it is a message the Broker already published.
func (b *Broker) Publish(e *parley.Event) {
	if !e.Kind.Logged() {
		b.local.Publish(e)
		return
	}
	b.mu.Lock()
	feed := b.feeds[e.RoomID]
	b.mu.Unlock()
	if feed == nil {
		return // no local subscribers
	}
	feed.mu.Lock()
	defer feed.mu.Unlock()
	if e.Seq <= feed.last {
		return
	}
	feed.last = e.Seq
	b.local.Publish(e)
}

func (b *Broker) unsubscribe(roomID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if feed := b.feeds[roomID]; feed != nil {
		if feed.subs--; feed.subs <= 0 {
			delete(b.feeds, roomID)
			delete(b.dirty, roomID)
		}
	}
}

type subscription struct {
	parley.Subscription
	broker *Broker
	roomID string
	once   sync.Once
}

func (s *subscription) Close() {
	s.once.Do(func() {
		s.Subscription.Close()
		s.broker.unsubscribe(s.roomID)
	})
}

// listen keeps a connection LISTENing and marks rooms with news, until ctx
// ends.
func (b *Broker) listen(ctx context.Context) {
	defer b.done.Done()
	backoff := b.minBackoff
	for {
		start := time.Now()
		err := b.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > b.maxBackoff {
			backoff = b.minBackoff // it worked for a while: retry soon
		}
		b.logger.Warn("listening for messages from other replicas failed; reconnecting",
			"err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, b.maxBackoff)
	}
}

func (b *Broker) listenOnce(ctx context.Context) error {
	cfg := b.store.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return wrap("connect listener", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }() // the listen loop's error is the one to report
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel+"; LISTEN "+RevocationChannel); err != nil {
		return wrap("listen", err)
	}
	b.listening.Store(true)
	defer b.listening.Store(false)
	// Anything may have been stored while we were not listening.
	b.markAll()
	b.logger.Debug("listening for messages from other replicas")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return wrap("wait for notification", err)
		}
		if n.Channel == RevocationChannel {
			b.revoked(ctx, n.Payload)
			continue
		}
		if notified := b.store.obs.BrokerNotification; notified != nil {
			notified()
		}
		roomID, seq, ok := parsePayload(n.Payload)
		if !ok {
			continue
		}
		b.mark(roomID, seq)
	}
}

// mark notes that roomID has a message with seq, if the room has local
// subscribers and the Broker has not published it yet.
func (b *Broker) mark(roomID string, seq int64) {
	b.mu.Lock()
	feed := b.feeds[roomID]
	b.mu.Unlock()
	if feed == nil {
		return
	}
	feed.mu.Lock()
	stale := seq <= feed.last
	feed.mu.Unlock()
	if stale {
		return
	}
	b.mu.Lock()
	b.dirty[roomID] = struct{}{}
	b.mu.Unlock()
	b.signal()
}

// markAll makes the next delivery round look at every room.
func (b *Broker) markAll() {
	b.mu.Lock()
	b.all = true
	b.mu.Unlock()
	b.signal()
}

func (b *Broker) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// deliver reads and publishes what mark and markAll noted, and polls every
// room now and then, until ctx ends.
func (b *Broker) deliver(ctx context.Context) {
	defer b.done.Done()
	poll := time.NewTicker(b.pollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		case <-poll.C:
			b.mu.Lock()
			b.all = true
			b.mu.Unlock()
		}
		b.mu.Lock()
		all, dirty := b.all, b.dirty
		b.all, b.dirty = false, make(map[string]struct{})
		var rooms []string
		if all {
			for id := range b.feeds {
				rooms = append(rooms, id)
			}
		}
		b.mu.Unlock()
		if all {
			if err := b.pollHeads(ctx, rooms); err != nil {
				b.logger.Debug("poll head seqs", "err", err)
				b.mu.Lock()
				b.all = true // try again at the next tick or reconnect
				b.mu.Unlock()
			}
		}
		for roomID := range dirty {
			if err := b.catchUp(ctx, roomID); err != nil {
				b.logger.Debug("catch up", "room", roomID, "err", err)
				b.mu.Lock()
				b.all = true
				b.mu.Unlock()
			}
		}
	}
}

// pollHeads catches up the rooms whose head is beyond what was published.
func (b *Broker) pollHeads(ctx context.Context, rooms []string) error {
	if len(rooms) == 0 {
		return nil
	}
	heads, err := b.store.headSeqs(ctx, rooms)
	if err != nil {
		return err
	}
	for roomID, head := range heads {
		feed := b.feed(roomID)
		if feed == nil {
			continue
		}
		feed.mu.Lock()
		if feed.last < 0 {
			feed.last = head // the start was never read: begin here
		}
		behind := head > feed.last
		feed.mu.Unlock()
		if behind {
			if err := b.catchUp(ctx, roomID); err != nil {
				return err
			}
		}
	}
	return nil
}

// catchUp publishes the room's messages after the last one published, in
// seq order.
func (b *Broker) catchUp(ctx context.Context, roomID string) error {
	feed := b.feed(roomID)
	if feed == nil {
		return nil
	}
	feed.mu.Lock()
	after := feed.last
	feed.mu.Unlock()
	if after < 0 {
		b.markAll()
		return nil
	}
	for {
		events, _, err := b.store.ListEvents(ctx, roomID, after, catchUpPage)
		if read := b.store.obs.BrokerCatchUp; read != nil {
			read(len(events), err)
		}
		if err != nil {
			return err
		}
		feed.mu.Lock()
		for i := range events {
			if events[i].Seq > feed.last {
				feed.last = events[i].Seq
				b.local.Publish(events[i])
			}
		}
		feed.mu.Unlock()
		if len(events) < catchUpPage {
			return nil
		}
		after = events[len(events)-1].Seq
	}
}

func (b *Broker) feed(roomID string) *roomFeed {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.feeds[roomID]
}

// notifyPayload is what AppendMessage notifies: "ROOM_ID:SEQ".
func notifyPayload(roomID string, seq int64) string {
	return roomID + ":" + strconv.FormatInt(seq, 10)
}

func parsePayload(p string) (roomID string, seq int64, ok bool) {
	i := strings.LastIndexByte(p, ':')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseInt(p[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return p[:i], seq, true
}
