package parley

import (
	"context"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on files.
const (
	DefaultMaxFileBytes = 25 << 20 // per file, unless the server is configured otherwise
	MaxChunkBytes       = 1 << 20  // per upload chunk
	DownloadChunkBytes  = 64 << 10 // per download frame
	FileNameMaxLen      = 255
	MaxAttachments      = 10 // per message
)

// File is an uploaded, verified file belonging to a room. Files never
// change once stored.
type File struct {
	ID          string
	RoomID      string
	Name        string
	ContentType string
	Size        int64
	SHA256      string // lowercase hex
	Uploader    User
	CreateTime  time.Time
}

// UploadMeta announces a file to be uploaded.
type UploadMeta struct {
	RoomID      string
	Name        string
	ContentType string
	Size        int64
	SHA256      string
}

// Upload is a file on its way in. Its bytes so far are in a BlobStore; its
// FileID is set once they all arrived and verified.
type Upload struct {
	ID         string
	UploaderID string
	Meta       UploadMeta
	CreateTime time.Time
	FileID     string
}

// FileStore keeps the metadata of uploads and files. It stores metadata as
// given: validating it and enforcing size limits is the caller's job
// (ValidateUploadMeta, the server's largest file).
type FileStore interface {
	// CreateUpload records a new upload, with an id and create time of its
	// own and no file yet. ENOTFOUND if the room or the uploader does not
	// exist.
	CreateUpload(ctx context.Context, uploaderID string, meta UploadMeta) (Upload, error)
	// UploadByID returns an upload, with its FileID once complete.
	// ENOTFOUND if none.
	UploadByID(ctx context.Context, id string) (Upload, error)
	// CompleteUpload records the upload's verified file and links the two,
	// atomically. The file has the upload's metadata and uploader, and an id
	// and create time of its own: each upload gets a file of its own, even
	// when another has the same content. Completing a completed upload,
	// also concurrently, returns its file. ENOTFOUND if there is no such
	// upload.
	CompleteUpload(ctx context.Context, uploadID string) (File, error)
	// DeleteUpload forgets an upload that is not complete. A completed
	// upload, or one that does not exist, is left alone and is no error.
	DeleteUpload(ctx context.Context, id string) error
	// FileByID returns a file. ENOTFOUND if none.
	FileByID(ctx context.Context, id string) (File, error)
	// StaleUploads returns up to limit uploads that are not complete and
	// were created before createdBefore, oldest first (by CreateTime, then
	// ID): those ExpireUploads reclaims. None is no error.
	StaleUploads(ctx context.Context, createdBefore time.Time, limit int) ([]Upload, error)
	// StoredBytes returns how many bytes a user has stored or announced:
	// the sum of the sizes of the user's files plus the declared sizes
	// (Meta.Size) of the user's uploads that are not complete. 0 for a user
	// with neither, also one that does not exist.
	StoredBytes(ctx context.Context, uploaderID string) (int64, error)
}

// BlobStore keeps file contents: the partial content of each upload, and
// verified contents addressed by their SHA-256. Upload ids are those a
// FileStore made; an engine may refuse others with ENOTFOUND.
type BlobStore interface {
	// Append writes data at offset to the upload's partial content, durably,
	// and returns the new size. EPRECONDITION if offset is not the size;
	// then nothing is written.
	Append(uploadID string, offset int64, data []byte) (int64, error)
	// Size returns the size of the upload's partial content (0 if none).
	Size(uploadID string) (int64, error)
	// Commit checks that the partial content hashes to sha256 and stores it
	// under that hash, in place of the partial content; storing content
	// that is already there is no error. On a mismatch it deletes the
	// partial content and returns ECORRUPT. ENOTFOUND if the upload has no
	// partial content.
	Commit(uploadID, sha256 string) error
	// Discard deletes the upload's partial content, if any.
	Discard(uploadID string) error
	// Open returns the verified content with the given hash. ENOTFOUND if none.
	Open(sha256 string) (io.ReadSeekCloser, error)
}

// ValidateUploadMeta reports what is wrong with an upload's metadata given
// the largest file allowed. The room is not checked here.
func ValidateUploadMeta(prefix string, m UploadMeta) []FieldViolation {
	var v []FieldViolation
	switch {
	case m.Name == "":
		v = append(v, FieldViolation{prefix + "name", "is required"})
	case len(m.Name) > FileNameMaxLen:
		v = append(v, FieldViolation{prefix + "name", "must be at most 255 bytes"})
	case strings.ContainsRune(m.Name, '/') || m.Name == "." || m.Name == "..":
		v = append(v, FieldViolation{prefix + "name", "must be a file name, not a path"})
	case !utf8.ValidString(m.Name):
		v = append(v, FieldViolation{prefix + "name", "must be valid UTF-8"})
	case strings.ContainsFunc(m.Name, isLineOrControl):
		v = append(v, FieldViolation{prefix + "name", "must not contain control characters (such as NUL, CR or LF) or line separators"})
	case strings.ContainsFunc(m.Name, isBidiControl):
		v = append(v, FieldViolation{prefix + "name", "must not contain bidirectional formatting characters (U+202A to U+202E, U+2066 to U+2069, U+200E, U+200F, U+061C)"})
	}
	if len(m.ContentType) > 255 || strings.ContainsFunc(m.ContentType, isLineOrControl) {
		v = append(v, FieldViolation{prefix + "content_type", "must be a MIME type"})
	}
	if m.Size <= 0 {
		v = append(v, FieldViolation{prefix + "size", "must be positive"})
	}
	if !isHexSHA256(m.SHA256) {
		v = append(v, FieldViolation{prefix + "sha256", "must be 64 lowercase hex digits"})
	}
	return v
}

// isLineOrControl reports the characters that would break a file name
// across lines or smuggle terminal and header control codes: Unicode Cc
// (C0, DEL, C1; CR and LF among them) and the line and paragraph
// separators U+2028 and U+2029.
func isLineOrControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

// isBidiControl reports Unicode's Bidi_Control characters: the embeddings
// and overrides U+202A to U+202E, the isolates U+2066 to U+2069 and the
// marks U+200E, U+200F and U+061C. In a file name they make
// "invoice\u202Efdp.exe" display as "invoiceexe.pdf".
func isBidiControl(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
