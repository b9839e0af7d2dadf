package server

import (
	"context"
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

// uploadQuota is the FileStore the files core uses when uploads are
// limited: creating an upload is where UploadsPerUser, OpenUploadsPerUser
// and StoredBytesPerUser are checked, and completing or deleting one
// (whoever does it, for whatever reason: the expiry sweep too) is where it
// stops counting as unfinished.
type uploadQuota struct {
	parley.FileStore
	q *quotas
}

// limitUploads wraps files in the upload quotas, if any are on.
func (q *quotas) limitUploads(files parley.FileStore) parley.FileStore {
	if files == nil || q.uploads == nil && q.open == nil {
		return files
	}
	return &uploadQuota{FileStore: files, q: q}
}

func (u *uploadQuota) CreateUpload(ctx context.Context, uploaderID string, meta parley.UploadMeta) (parley.Upload, error) {
	// The cap first, so that a refused upload does not spend the rate.
	now := u.q.now()
	slot, err := u.q.open.reserve(uploaderID, now)
	if err != nil {
		return parley.Upload{}, err
	}
	unlock, err := u.checkStored(ctx, uploaderID, meta.Size, now)
	if err != nil {
		slot.cancel()
		return parley.Upload{}, err
	}
	defer unlock()
	if err := u.q.allow(u.q.uploads, u.q.limits.UploadsPerUser, uploaderID, "too many uploads started"); err != nil {
		slot.cancel()
		return parley.Upload{}, err
	}
	up, err := u.FileStore.CreateUpload(ctx, uploaderID, meta)
	if err != nil {
		slot.cancel()
		return parley.Upload{}, err
	}
	slot.commit(up.ID)
	return up, nil
}

// checkStored refuses an upload of size bytes that would take uploaderID
// beyond StoredBytesPerUser. On success the caller holds the user's lock
// until the upload is created, so that uploads created at once in this
// process cannot all pass on the same bytes.
//
// The refusal's retry delay is when the oldest unfinished upload this
// process knows of will have expired and been swept, freeing its share, or
// with none known (none, or all made before a restart or on another
// replica) the expiry plus the sweep interval, by when every upload
// unfinished now is gone. Files are not reclaimed: a user whose files fill
// the quota waits for nothing, but no delay can say so.
func (u *uploadQuota) checkStored(ctx context.Context, uploaderID string, size int64, now time.Time) (unlock func(), err error) {
	limit := u.q.limits.StoredBytesPerUser
	if limit <= 0 {
		return func() {}, nil
	}
	unlock = u.q.storedLocks.Lock(uploaderID)
	stored, err := u.FileStore.StoredBytes(ctx, uploaderID)
	if err != nil {
		unlock()
		return nil, err
	}
	if stored+size <= limit {
		return unlock, nil
	}
	unlock()
	wait := u.q.open.reclaimWait(uploaderID, now)
	return nil, parley.RateLimited(wait,
		"not enough storage left: at most %d bytes per user, %d are in files and unfinished uploads, this upload needs %d; unfinished uploads free theirs when they expire: retry in %v",
		limit, stored, size, wait)
}

func (u *uploadQuota) CompleteUpload(ctx context.Context, uploadID string) (parley.File, error) {
	f, err := u.FileStore.CompleteUpload(ctx, uploadID)
	if err == nil {
		u.q.open.done(uploadID)
	}
	return f, err
}

func (u *uploadQuota) DeleteUpload(ctx context.Context, id string) error {
	err := u.FileStore.DeleteUpload(ctx, id)
	if err == nil {
		u.q.open.done(id)
	}
	return err
}

// openUploads counts each user's unfinished uploads, in memory: after a
// restart every user starts from none. An upload counts for lifetime (the
// upload expiry) and is remembered until reclaimedBy (the expiry plus the
// sweep interval), for the retry delay of StoredBytesPerUser. A nil
// *openUploads counts nothing.
type openUploads struct {
	max         int // 0: no cap, only remembered
	maxUsers    int
	lifetime    time.Duration
	reclaimedBy time.Duration

	mu     sync.Mutex
	byUser map[string]*userUploads
	owner  map[string]string // upload id -> uploader
}

type userUploads struct {
	since   map[string]time.Time // upload id -> when it began to count
	pending int                  // reserved, being created
}

// uploadSlot is a reserved place for an upload being created.
type uploadSlot struct {
	o    *openUploads
	user string
	now  time.Time
}

// reserve takes one of user's places, or refuses with the time until the
// oldest unfinished upload stops counting.
func (o *openUploads) reserve(user string, now time.Time) (*uploadSlot, error) {
	if o == nil {
		return nil, nil //nolint:nilnil // no cap: a nil slot does nothing
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	u := o.byUser[user]
	if u == nil {
		if len(o.byUser) >= o.maxUsers {
			o.sweep(now)
		}
		u = &userUploads{since: map[string]time.Time{}}
		o.byUser[user] = u
	}
	counted, oldest := 0, now
	for id, t := range u.since {
		switch age := now.Sub(t); {
		case age >= o.reclaimedBy:
			delete(u.since, id)
			delete(o.owner, id)
		case age < o.lifetime:
			counted++
			if t.Before(oldest) {
				oldest = t
			}
		}
	}
	if o.max > 0 && counted+u.pending >= o.max {
		wait := max(oldest.Add(o.lifetime).Sub(now), capRetry)
		return nil, parley.RateLimited(roundUp(wait),
			"too many unfinished uploads: at most %d per user; finish one (GetUpload tells where to resume) or retry in %v", o.max, roundUp(wait))
	}
	u.pending++
	return &uploadSlot{o: o, user: user, now: now}, nil
}

// sweep forgets users with nothing unfinished, and if there are still too
// many, any user: the cap on memory wins over the quota.
func (o *openUploads) sweep(now time.Time) {
	for user, u := range o.byUser {
		for id, t := range u.since {
			if now.Sub(t) >= o.reclaimedBy {
				delete(u.since, id)
				delete(o.owner, id)
			}
		}
		if len(u.since) == 0 && u.pending == 0 {
			delete(o.byUser, user)
		}
	}
	for user, u := range o.byUser {
		if len(o.byUser) < o.maxUsers {
			break
		}
		if u.pending == 0 {
			for id := range u.since {
				delete(o.owner, id)
			}
			delete(o.byUser, user)
		}
	}
}

// reclaimWait is how long until user's oldest unfinished upload known
// here has expired and been swept (at least capRetry), or reclaimedBy if
// none is known.
func (o *openUploads) reclaimWait(user string, now time.Time) time.Duration {
	wait := o.reclaimedBy
	o.mu.Lock()
	defer o.mu.Unlock()
	if u := o.byUser[user]; u != nil {
		for _, t := range u.since {
			wait = min(wait, t.Add(o.reclaimedBy).Sub(now))
		}
	}
	return roundUp(max(wait, capRetry))
}

// commit counts the created upload in the slot's place.
func (s *uploadSlot) commit(id string) {
	if s == nil {
		return
	}
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	u := s.o.byUser[s.user]
	if u == nil { // swept meanwhile
		u = &userUploads{since: map[string]time.Time{}, pending: 1}
		s.o.byUser[s.user] = u
	}
	u.pending--
	u.since[id] = s.now
	s.o.owner[id] = s.user
}

// cancel gives the slot's place back.
func (s *uploadSlot) cancel() {
	if s == nil {
		return
	}
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	if u := s.o.byUser[s.user]; u != nil {
		u.pending--
		s.o.forgetIfEmpty(s.user, u)
	}
}

// done stops counting an upload.
func (o *openUploads) done(id string) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	user, ok := o.owner[id]
	if !ok {
		return
	}
	delete(o.owner, id)
	if u := o.byUser[user]; u != nil {
		delete(u.since, id)
		o.forgetIfEmpty(user, u)
	}
}

func (o *openUploads) forgetIfEmpty(user string, u *userUploads) {
	if len(u.since) == 0 && u.pending <= 0 {
		delete(o.byUser, user)
	}
}
