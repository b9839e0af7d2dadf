package server

import (
	"context"
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

// uploadQuota is the FileStore the files core uses when uploads are
// limited: creating an upload is where UploadsPerUser and OpenUploadsPerUser
// are checked, and completing or deleting one (whoever does it, for whatever
// reason) is where it stops counting.
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
	slot, err := u.q.open.reserve(uploaderID, u.q.now())
	if err != nil {
		return parley.Upload{}, err
	}
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
// restart every user starts from none. A nil *openUploads counts nothing.
type openUploads struct {
	max      int
	maxUsers int

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
	oldest := now
	for id, t := range u.since {
		if now.Sub(t) >= openUploadLifetime {
			delete(u.since, id)
			delete(o.owner, id)
		} else if t.Before(oldest) {
			oldest = t
		}
	}
	if len(u.since)+u.pending >= o.max {
		wait := max(oldest.Add(openUploadLifetime).Sub(now), capRetry)
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
			if now.Sub(t) >= openUploadLifetime {
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
