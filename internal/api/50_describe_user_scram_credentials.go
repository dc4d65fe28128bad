package api

// DescribeUserScramCredentials v0 and AlterUserScramCredentials v0
// (KIP-554): the SCRAM credentials kept in the metadata log, as Kafka's
// ScramControlManager keeps them. Describe never shows a salt or key, only
// the mechanism and iterations. Alter takes the salted password the client
// derived (never the password) and keeps StoredKey and ServerKey.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/sasl"
)

// scramMechanismName maps the protocol's mechanism codes (Kafka's
// ScramMechanism: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512) to names.
func scramMechanismName(code int8) (string, bool) {
	switch code {
	case 1:
		return sasl.MechanismScramSHA256, true
	case 2:
		return sasl.MechanismScramSHA512, true
	}
	return "", false
}

func scramMechanismCode(name string) int8 {
	switch name {
	case sasl.MechanismScramSHA256:
		return 1
	case sasl.MechanismScramSHA512:
		return 2
	}
	return 0
}

func describeUserScramCredentials(h *Handlers, _ context.Context, req *kmsg.DescribeUserSCRAMCredentialsRequest) (*kmsg.DescribeUserSCRAMCredentialsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	byUser := map[string][]kmsg.DescribeUserSCRAMCredentialsResponseResultCredentialInfo{}
	var users []string
	for _, c := range h.image().ScramCredentials() {
		if _, ok := byUser[c.User]; !ok {
			users = append(users, c.User)
		}
		info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
		info.Mechanism, info.Iterations = scramMechanismCode(c.Mechanism), c.Iterations
		byUser[c.User] = append(byUser[c.User], info)
	}
	result := func(user string, code int16, msg string) kmsg.DescribeUserSCRAMCredentialsResponseResult {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User, r.ErrorCode = user, code
		if msg != "" {
			r.ErrorMessage = &msg
		}
		r.CredentialInfos = byUser[user]
		return r
	}
	if len(req.Users) == 0 {
		for _, u := range users {
			resp.Results = append(resp.Results, result(u, 0, ""))
		}
		return resp, nil
	}
	seen := map[string]int{}
	for _, u := range req.Users {
		seen[u.Name]++
	}
	for _, u := range req.Users {
		switch {
		case seen[u.Name] > 1:
			if seen[u.Name] > 0 {
				resp.Results = append(resp.Results, kmsg.DescribeUserSCRAMCredentialsResponseResult{User: u.Name, ErrorCode: kerr.DuplicateResource.Code, ErrorMessage: strp("Cannot describe SCRAM credentials for the same user twice in a single request: " + u.Name)})
				seen[u.Name] = -1 // once
			}
		case seen[u.Name] < 0:
		case byUser[u.Name] == nil:
			resp.Results = append(resp.Results, result(u.Name, kerr.ResourceNotFound.Code, "Attempt to describe a user credential that does not exist: "+u.Name))
		default:
			resp.Results = append(resp.Results, result(u.Name, 0, ""))
		}
	}
	return resp, nil
}

func alterUserScramCredentials(h *Handlers, ctx context.Context, req *kmsg.AlterUserSCRAMCredentialsRequest) (*kmsg.AlterUserSCRAMCredentialsResponse, error) {
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	img := h.image()
	// Kafka's rule: a user named more than once in the request is refused
	// whole (DUPLICATE_RESOURCE); every other user stands alone.
	count := map[string]int{}
	var order []string
	for _, d := range req.Deletions {
		if count[d.Name] == 0 {
			order = append(order, d.Name)
		}
		count[d.Name]++
	}
	for _, u := range req.Upsertions {
		if count[u.Name] == 0 {
			order = append(order, u.Name)
		}
		count[u.Name]++
	}
	errs := map[string]int16{} // a user's error code; absent: none yet
	msgs := map[string]string{}
	fail := func(user string, err *kerr.Error, msg string) {
		if _, failed := errs[user]; !failed {
			errs[user], msgs[user] = err.Code, msg
		}
	}
	var record metadata.AlterScramCredentials
	for _, user := range order {
		if user == "" {
			fail(user, kerr.UnacceptableCredential, "Username must not be empty")
		} else if count[user] > 1 {
			fail(user, kerr.DuplicateResource, "A user credential cannot be altered twice in the same request")
		}
	}
	for _, d := range req.Deletions {
		mechanism, ok := scramMechanismName(d.Mechanism)
		_, failed := errs[d.Name]
		switch {
		case failed:
		case !ok:
			fail(d.Name, kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
		case img.Scram[metadata.ScramUser{User: d.Name, Mechanism: mechanism}].User == "":
			fail(d.Name, kerr.ResourceNotFound, "Attempt to delete a user credential that does not exist")
		default:
			record.Delete = append(record.Delete, metadata.ScramUser{User: d.Name, Mechanism: mechanism})
		}
	}
	for _, u := range req.Upsertions {
		if _, failed := errs[u.Name]; failed {
			continue
		}
		mechanism, ok := scramMechanismName(u.Mechanism)
		if !ok {
			fail(u.Name, kerr.UnsupportedSaslMechanism, "Unknown SCRAM mechanism")
			continue
		}
		m, _ := sasl.ScramMechanismByName(mechanism)
		cred, err := sasl.ScramCredentialFromSaltedPassword(m, u.Salt, u.SaltedPassword, int(u.Iterations))
		if err != nil {
			fail(u.Name, kerr.UnacceptableCredential, unacceptable(err))
			continue
		}
		record.Upsert = append(record.Upsert, metadata.ScramCredential{
			ScramUser: metadata.ScramUser{User: u.Name, Mechanism: mechanism},
			Salt:      cred.Salt, StoredKey: cred.StoredKey, ServerKey: cred.ServerKey, Iterations: int32(cred.Iterations),
		})
	}
	if len(record.Upsert)+len(record.Delete) > 0 {
		if err := h.Controller.AlterScramCredentials(ctx, record); err != nil {
			code, msg := errorCode(err), errorMessage(err)
			for _, user := range order {
				if _, failed := errs[user]; !failed {
					errs[user] = code
					if msg != nil {
						msgs[user] = *msg
					}
				}
			}
		}
	}
	for _, user := range order {
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User = user
		if code := errs[user]; code != 0 {
			r.ErrorCode = code
			if msgs[user] != "" {
				r.ErrorMessage = strp(msgs[user])
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

func strp(s string) *string { return &s }

// unacceptable is the client's text of a credential the sasl package
// refused ("Too few iterations"), without the package's prefix.
func unacceptable(err error) string {
	msg := err.Error()
	if prefix := sasl.ErrUnacceptableCredential.Error() + ": "; errors.Is(err, sasl.ErrUnacceptableCredential) && len(msg) > len(prefix) {
		return msg[len(prefix):]
	}
	return msg
}
