package broker

import (
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/sasl"
)

// saslListeners is the api.Authenticator of the broker's SASL listeners.
type saslListeners struct {
	byName map[string]*sasl.Authenticator
	reauth map[string]time.Duration
}

// newSASLListeners prepares the mechanisms of every SASL listener: PLAIN's
// users from its JAAS config, SCRAM's credentials from the metadata image,
// OAUTHBEARER's JWKS (fetched once now). Nil when no listener uses SASL.
func newSASLListeners(sec config.Security, image func() *metadata.Image) (*saslListeners, error) {
	s := &saslListeners{byName: map[string]*sasl.Authenticator{}, reauth: map[string]time.Duration{}}
	for name, l := range sec.Listeners {
		if !l.SASLEnabled() {
			continue
		}
		a, err := sasl.New(sasl.Config{
			EnabledMechanisms: l.Mechanisms,
			PlainJAASConfig:   l.JAAS[sasl.MechanismPlain],
			ScramCredentials:  imageCredentials(image),
			OAuthBearer: sasl.OAuthBearerConfig{
				JWKSEndpointURL:     l.OAuth.JWKSURL,
				JWKSEndpointRefresh: l.OAuth.JWKSRefresh,
				ExpectedIssuer:      l.OAuth.Issuer,
				ExpectedAudience:    l.OAuth.Audience,
				SubClaimName:        l.OAuth.SubClaim,
				ScopeClaimName:      l.OAuth.ScopeClaim,
				ClockSkew:           l.OAuth.ClockSkew,
			},
		})
		if err != nil {
			return nil, fmt.Errorf("broker: listener %s: %w", name, err)
		}
		s.byName[name], s.reauth[name] = a, l.ReauthMax
	}
	if len(s.byName) == 0 {
		return nil, nil
	}
	return s, nil
}

func (s *saslListeners) Mechanisms(listener string) []string {
	if a := s.byName[listener]; a != nil {
		return a.Mechanisms()
	}
	return nil
}

func (s *saslListeners) Start(listener, mechanism string) (sasl.Server, error) {
	a := s.byName[listener]
	if a == nil {
		return nil, fmt.Errorf("broker: listener %s has no SASL", listener)
	}
	return a.NewServer(mechanism)
}

func (s *saslListeners) ReauthMax(listener string) time.Duration { return s.reauth[listener] }

// imageCredentials looks SCRAM credentials up in the latest metadata
// image, so a credential altered anywhere in the cluster is used here as
// soon as this broker applies the record.
type imageCredentials func() *metadata.Image

func (f imageCredentials) ScramCredential(m sasl.ScramMechanism, user string) (sasl.ScramCredential, bool, error) {
	c, ok := f().Scram[metadata.ScramUser{User: user, Mechanism: m.String()}]
	if !ok {
		return sasl.ScramCredential{}, false, nil
	}
	return sasl.ScramCredential{Salt: c.Salt, StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: int(c.Iterations)}, true, nil
}

// interBrokerSASL returns the client options with which this broker
// authenticates to the others' inter-broker listener: the mechanism of
// sasl.mechanism.inter.broker.protocol with the username and password of
// that mechanism's JAAS config on the listener (Kafka's broker login).
func interBrokerSASL(sec config.Security) ([]kgo.Opt, error) {
	l := sec.Listeners[sec.InterBrokerListener]
	if !l.SASLEnabled() {
		return nil, nil
	}
	mechanism := sec.InterBrokerMechanism
	entries, err := sasl.ParseJAASConfig(l.JAAS[mechanism])
	if err != nil {
		return nil, fmt.Errorf("broker: the JAAS config of %s on listener %s: %w", mechanism, l.Name, err)
	}
	var user, password string
	found := false
	for _, e := range entries {
		if user, password, found = e.Credentials(); found {
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("config listener.name.%s.%s.sasl.jaas.config must give the broker's username and password for inter-broker connections (sasl.mechanism.inter.broker.protocol=%s)", strings.ToLower(l.Name), strings.ToLower(mechanism), mechanism)
	}
	switch mechanism {
	case sasl.MechanismPlain:
		return []kgo.Opt{kgo.SASL(plain.Auth{User: user, Pass: password}.AsMechanism())}, nil
	case sasl.MechanismScramSHA256:
		return []kgo.Opt{kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha256Mechanism())}, nil
	case sasl.MechanismScramSHA512:
		return []kgo.Opt{kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism())}, nil
	}
	return nil, fmt.Errorf("config sasl.mechanism.inter.broker.protocol: %s is not supported between brokers (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 are)", mechanism)
}
