package postgres

// FollowedRooms returns how many rooms b follows for local subscribers, so
// tests can see that a failed Subscribe left nothing registered.
func FollowedRooms(b *Broker) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.feeds)
}
