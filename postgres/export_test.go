package postgres

// FollowedRooms returns how many rooms b follows for local subscribers, so
// tests can see that a failed Subscribe left nothing registered.
func FollowedRooms(b *Broker) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.feeds)
}

// Listening reports whether b's listening connection is LISTENing, so
// tests can send a notification that cannot be caught up (a revocation)
// only once it will be heard.
func Listening(b *Broker) bool { return b.listening.Load() }
