package sasl

import (
	"fmt"
	"slices"
)

// Config is what a listener's SASL servers need. The caller reads Kafka's
// configs and passes their values; the names are given on each field.
type Config struct {
	// EnabledMechanisms is sasl.enabled.mechanisms (listener-prefixed:
	// listener.name.<listener>.sasl.enabled.mechanisms). Kafka's default,
	// GSSAPI, is not served here, so there is no default.
	EnabledMechanisms []string

	// PlainJAASConfig is listener.name.<listener>.plain.sasl.jaas.config,
	// which holds the PLAIN users as user_<name>="<password>" options.
	// Required if PLAIN is enabled and PlainVerifier is nil.
	PlainJAASConfig string
	// PlainVerifier, if set, checks PLAIN passwords instead of the JAAS
	// users (Kafka's listener.name.<listener>.plain.sasl.server.callback.handler.class).
	PlainVerifier PlainVerifier

	// ScramCredentials holds the SCRAM credentials; required if a SCRAM
	// mechanism is enabled. In Kafka they come from the metadata log, not
	// from a config.
	ScramCredentials CredentialStore

	// OAuthBearer configures OAUTHBEARER token validation
	// (listener.name.<listener>.oauthbearer.sasl.oauthbearer.*).
	OAuthBearer OAuthBearerConfig
	// TokenValidator, if set, validates OAUTHBEARER tokens instead of a
	// JWTValidator made from OAuthBearer (Kafka's
	// sasl.oauthbearer.jwt.validator.class).
	TokenValidator TokenValidator
}

// Authenticator makes the SASL servers of one listener. It is safe for
// concurrent use and owns no goroutine.
type Authenticator struct {
	mechanisms     []string
	plainVerifier  PlainVerifier
	scram          CredentialStore
	tokenValidator TokenValidator
}

// New checks config and prepares each enabled mechanism; for OAUTHBEARER
// that fetches the JWKS once.
func New(config Config) (*Authenticator, error) {
	if len(config.EnabledMechanisms) == 0 {
		return nil, fmt.Errorf("sasl: sasl.enabled.mechanisms is empty")
	}
	authenticator := &Authenticator{}
	for _, mechanism := range config.EnabledMechanisms {
		if slices.Contains(authenticator.mechanisms, mechanism) {
			continue
		}
		switch mechanism {
		case MechanismPlain:
			authenticator.plainVerifier = config.PlainVerifier
			if authenticator.plainVerifier == nil {
				if config.PlainJAASConfig == "" {
					return nil, fmt.Errorf("sasl: PLAIN is enabled but plain.sasl.jaas.config is not set")
				}
				entries, err := ParseJAASConfig(config.PlainJAASConfig)
				if err != nil {
					return nil, fmt.Errorf("sasl: plain.sasl.jaas.config: %w", err)
				}
				authenticator.plainVerifier = NewPlainUsers(entries)
			}
		case MechanismScramSHA256, MechanismScramSHA512:
			if config.ScramCredentials == nil {
				return nil, fmt.Errorf("sasl: %s is enabled but there is no SCRAM credential store", mechanism)
			}
			authenticator.scram = config.ScramCredentials
		case MechanismOAuthBearer:
			authenticator.tokenValidator = config.TokenValidator
			if authenticator.tokenValidator == nil {
				validator, err := NewJWTValidator(config.OAuthBearer)
				if err != nil {
					return nil, err
				}
				authenticator.tokenValidator = validator
			}
		default:
			return nil, fmt.Errorf("sasl: %w %q in sasl.enabled.mechanisms", ErrUnsupportedMechanism, mechanism)
		}
		authenticator.mechanisms = append(authenticator.mechanisms, mechanism)
	}
	return authenticator, nil
}

// Mechanisms returns the enabled mechanisms in configured order, for the
// SaslHandshake response.
func (a *Authenticator) Mechanisms() []string {
	return slices.Clone(a.mechanisms)
}

// NewServer starts an exchange for the mechanism a client's SaslHandshake
// named; ErrUnsupportedMechanism if it is not enabled.
func (a *Authenticator) NewServer(mechanism string) (Server, error) {
	if !slices.Contains(a.mechanisms, mechanism) {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedMechanism, mechanism)
	}
	switch mechanism {
	case MechanismPlain:
		return NewPlainServer(a.plainVerifier), nil
	case MechanismOAuthBearer:
		return NewOAuthBearerServer(a.tokenValidator), nil
	}
	scramMechanism, _ := ScramMechanismByName(mechanism)
	return NewScramServer(scramMechanism, a.scram)
}
