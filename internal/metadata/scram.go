package metadata

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TypeAlterScramCredentials tags AlterScramCredentials.
const TypeAlterScramCredentials RecordType = 16

// ScramUser names one SCRAM credential: a user's, for one mechanism.
type ScramUser struct {
	User      string
	Mechanism string // SCRAM-SHA-256 or SCRAM-SHA-512
}

// ScramCredential is a user's salted SCRAM credential (RFC 5802): the
// password itself is never stored, as in Kafka's ScramCredentialRecord.
type ScramCredential struct {
	ScramUser
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
	Iterations int32
}

// AlterScramCredentials deletes, then upserts, SCRAM credentials
// (AlterUserScramCredentials). The request's checks (mechanisms,
// iterations, one change per user and mechanism) are the proposer's;
// apply refuses a record that breaks them, or deletes a credential that
// does not exist (RESOURCE_NOT_FOUND), as a whole.
type AlterScramCredentials struct {
	Upsert []ScramCredential `json:",omitempty"`
	Delete []ScramUser       `json:",omitempty"`
}

func (AlterScramCredentials) Type() RecordType { return TypeAlterScramCredentials }

// ScramMechanisms are the SCRAM mechanisms credentials are kept for.
var ScramMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}

func validScram(c ScramCredential) bool {
	return c.User != "" && slices.Contains(ScramMechanisms, c.Mechanism) && c.Iterations > 0 &&
		len(c.Salt) > 0 && len(c.StoredKey) > 0 && len(c.ServerKey) > 0
}

func (img *Image) applyAlterScramCredentials(index uint64, r AlterScramCredentials) (*Image, Result) {
	creds := make(map[ScramUser]ScramCredential, len(img.Scram)+len(r.Upsert))
	for k, v := range img.Scram {
		creds[k] = v
	}
	for _, u := range r.Delete {
		if _, ok := creds[u]; !ok {
			return img, reject(kerr.ResourceNotFound)
		}
		delete(creds, u)
	}
	for _, c := range r.Upsert {
		if !validScram(c) {
			return img, reject(kerr.UnacceptableCredential)
		}
		creds[c.ScramUser] = c
	}
	n := img.next(index)
	n.Scram = creds
	return n, Result{}
}

// ScramCredentials returns the credentials sorted by user and mechanism.
func (img *Image) ScramCredentials() []ScramCredential {
	out := make([]ScramCredential, 0, len(img.Scram))
	for _, c := range img.Scram {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b ScramCredential) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Mechanism, b.Mechanism))
	})
	return out
}
