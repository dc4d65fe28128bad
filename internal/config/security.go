package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-streaming/samsa/internal/tlsconf"
)

// securityDefinitions are the listener security configs: Kafka's ssl.*,
// sasl.* and authorizer configs. The ssl.* and sasl.* ones may also be set
// for one listener as listener.name.<listener>.<config> (and the JAAS
// config per mechanism as listener.name.<listener>.<mechanism>.sasl.jaas.config),
// which wins over the unprefixed value, as in Kafka.
var securityDefinitions = []definition{
	{name: "security.inter.broker.protocol", typ: TypeString, def: "PLAINTEXT", valid: oneOf("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
		doc: "The security protocol brokers use to talk to each other, when inter.broker.listener.name is not set: the listener of that name is used."},
	{name: "inter.broker.listener.name", typ: TypeString, def: null,
		doc: "The listener brokers use to talk to each other (replica fetches, transaction markers)."},
	// Kafka's default keystore type is JKS; Samsa reads PEM only, so PEM
	// is its default.
	{name: "ssl.keystore.type", typ: TypeString, def: "PEM",
		doc: "The format of the key store: PEM (the only one Samsa reads)."},
	{name: "ssl.keystore.location", typ: TypeString, def: null,
		doc: "A PEM file holding the private key and the certificate chain; reloaded when it changes."},
	{name: "ssl.keystore.certificate.chain", typ: TypePassword, def: null,
		doc: "The certificate chain in PEM, inline (instead of ssl.keystore.location)."},
	{name: "ssl.keystore.key", typ: TypePassword, def: null,
		doc: "The private key in PEM, inline (instead of ssl.keystore.location)."},
	{name: "ssl.key.password", typ: TypePassword, def: null,
		doc: "The password of an encrypted private key (not supported: give the key unencrypted)."},
	{name: "ssl.keystore.password", typ: TypePassword, def: null,
		doc: "The key store's password (unused for PEM)."},
	{name: "ssl.truststore.type", typ: TypeString, def: "PEM",
		doc: "The format of the trust store: PEM (the only one Samsa reads)."},
	{name: "ssl.truststore.location", typ: TypeString, def: null,
		doc: "A PEM file of the CA certificates trusted to sign peers' certificates; reloaded when it changes."},
	{name: "ssl.truststore.certificates", typ: TypePassword, def: null,
		doc: "Trusted CA certificates in PEM, inline (instead of ssl.truststore.location)."},
	{name: "ssl.truststore.password", typ: TypePassword, def: null,
		doc: "The trust store's password (unused for PEM)."},
	{name: "ssl.client.auth", typ: TypeString, def: "none", valid: oneOf("required", "requested", "none"),
		doc: "Whether the broker asks clients for a certificate: required, requested or none."},
	{name: "ssl.enabled.protocols", typ: TypeList, def: "TLSv1.2,TLSv1.3",
		doc: "The TLS versions accepted."},
	{name: "ssl.protocol", typ: TypeString, def: "TLSv1.3",
		doc: "The TLS protocol of the context (Go negotiates within ssl.enabled.protocols)."},
	{name: "ssl.cipher.suites", typ: TypeList, def: "",
		doc: "The TLS 1.2 cipher suites accepted, by IANA name; empty is Go's secure defaults."},
	{name: "ssl.principal.mapping.rules", typ: TypeString, def: "DEFAULT",
		doc: "Rules that map a client certificate's distinguished name to a principal name, as Kafka's."},
	{name: "ssl.endpoint.identification.algorithm", typ: TypeString, def: "https",
		doc: "https: a broker connecting to another checks the host name in its certificate; empty does not."},
	{name: "sasl.enabled.mechanisms", typ: TypeList, def: "GSSAPI",
		doc: "The SASL mechanisms a SASL listener accepts: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (GSSAPI is Kafka's default and is not supported)."},
	{name: "sasl.mechanism.inter.broker.protocol", typ: TypeString, def: "GSSAPI",
		doc: "The SASL mechanism brokers use to talk to each other over a SASL listener."},
	{name: "sasl.jaas.config", typ: TypePassword, def: null,
		doc: "JAAS login context in Kafka's format: the users of PLAIN (user_<name>=\"password\") and the broker's own username and password for inter-broker connections."},
	{name: "connections.max.reauth.ms", typ: TypeLong, def: "0", valid: atLeast(0),
		doc: "The longest a SASL session lasts before the client must re-authenticate (KIP-368); 0 is for ever."},
	{name: "sasl.oauthbearer.jwks.endpoint.url", typ: TypeString, def: null,
		doc: "The HTTPS (or file:) URL of the JWKS whose keys sign OAUTHBEARER tokens."},
	{name: "sasl.oauthbearer.jwks.endpoint.refresh.ms", typ: TypeLong, def: "3600000", valid: atLeast(1),
		doc: "How often the JWKS is fetched again."},
	{name: "sasl.oauthbearer.expected.issuer", typ: TypeString, def: null,
		doc: "The iss claim every token must carry; unset checks none."},
	{name: "sasl.oauthbearer.expected.audience", typ: TypeList, def: "",
		doc: "Audiences of which a token's aud claim must name one; empty checks none."},
	{name: "sasl.oauthbearer.sub.claim.name", typ: TypeString, def: "sub",
		doc: "The claim that names the principal."},
	{name: "sasl.oauthbearer.scope.claim.name", typ: TypeString, def: "scope",
		doc: "The claim that holds the token's scopes."},
	{name: "sasl.oauthbearer.clock.skew.seconds", typ: TypeInt, def: "30", valid: atLeast(0),
		doc: "The clock difference allowed when checking a token's times."},
	{name: "super.users", typ: TypeString, def: "",
		doc: "Principals allowed everything, separated by semicolons: User:admin;User:broker."},
	// Samsa's authorizer is built in; the name of Kafka's (or any
	// non-empty value) turns it on, so a Kafka server.properties carries over.
	{name: "authorizer.class.name", typ: TypeString, def: "",
		doc: "Set (to Kafka's org.apache.kafka.metadata.authorizer.StandardAuthorizer, or any name) to check ACLs; empty allows everything."},
	{name: "allow.everyone.if.no.acl.found", typ: TypeBoolean, def: "false",
		doc: "Whether a resource that no ACL names is open to everyone."},
}

// Mechanisms are the SASL mechanisms Samsa serves.
var Mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}

// listenerScoped reports whether config may be set per listener.
func listenerScoped(config string) bool {
	return strings.HasPrefix(config, "ssl.") || strings.HasPrefix(config, "sasl.") || config == "connections.max.reauth.ms"
}

// listenerDefinition returns the definition of a listener-prefixed name,
// listener.name.<listener>.<config>, named as given so that errors name it.
func listenerDefinition(name string) (*definition, bool) {
	rest, ok := strings.CutPrefix(name, "listener.name.")
	if !ok {
		return nil, false
	}
	listener, config, ok := strings.Cut(rest, ".")
	if !ok || listener == "" {
		return nil, false
	}
	def := brokerByName[config]
	if mechanism, jaas, ok := strings.Cut(config, "."); ok && jaas == "sasl.jaas.config" && slices.Contains(Mechanisms, strings.ToUpper(mechanism)) {
		def = brokerByName[jaas]
	} else if def == nil || !listenerScoped(config) {
		return nil, false
	}
	d := *def
	d.name = name
	return &d, true
}

// Security is how each listener secures its connections, and the
// authorizer's configs.
type Security struct {
	// Listeners are the broker's and the controller's listeners, by name.
	Listeners map[string]ListenerSecurity
	// InterBrokerListener is inter.broker.listener.name, else the listener
	// named by security.inter.broker.protocol: the one brokers dial each
	// other on. "" for a node with one PLAINTEXT listener and no names.
	InterBrokerListener string
	// InterBrokerMechanism is sasl.mechanism.inter.broker.protocol.
	InterBrokerMechanism string
	// SuperUsers is super.users.
	SuperUsers []string
	// Authorizer reports whether authorizer.class.name is set.
	Authorizer bool
	// AllowEveryoneIfNoACLFound is allow.everyone.if.no.acl.found.
	AllowEveryoneIfNoACLFound bool
}

// ListenerSecurity is one listener's security settings, with the
// listener.name.<listener>.* overrides applied.
type ListenerSecurity struct {
	Name     string
	Protocol string // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	// TLS holds the ssl.* settings; nil for PLAINTEXT and SASL_PLAINTEXT.
	TLS *tlsconf.Settings
	// Principals maps client certificates to principal names
	// (ssl.principal.mapping.rules).
	Principals *tlsconf.PrincipalMapper
	// Mechanisms is sasl.enabled.mechanisms, for SASL listeners.
	Mechanisms []string
	// JAAS is each enabled mechanism's sasl.jaas.config.
	JAAS map[string]string
	// ReauthMax is connections.max.reauth.ms; 0 is for ever.
	ReauthMax time.Duration
	OAuth     OAuth
}

// TLSEnabled reports whether the listener's connections start with TLS.
func (l ListenerSecurity) TLSEnabled() bool { return l.Protocol == "SSL" || l.Protocol == "SASL_SSL" }

// SASLEnabled reports whether the listener's clients authenticate with SASL.
func (l ListenerSecurity) SASLEnabled() bool {
	return l.Protocol == "SASL_PLAINTEXT" || l.Protocol == "SASL_SSL"
}

// OAuth is the sasl.oauthbearer.* configs of a listener.
type OAuth struct {
	JWKSURL     string        // sasl.oauthbearer.jwks.endpoint.url
	JWKSRefresh time.Duration // sasl.oauthbearer.jwks.endpoint.refresh.ms
	Issuer      string        // sasl.oauthbearer.expected.issuer
	Audience    []string      // sasl.oauthbearer.expected.audience
	SubClaim    string        // sasl.oauthbearer.sub.claim.name
	ScopeClaim  string        // sasl.oauthbearer.scope.claim.name
	ClockSkew   time.Duration // sasl.oauthbearer.clock.skew.seconds
}

// listenerValue is a config's value for one listener: the
// listener.name.<listener>.<config> override, else the config's own.
func (b *Broker) listenerValue(listener, config string) (string, bool) {
	if v, ok := b.static["listener.name."+strings.ToLower(listener)+"."+config]; ok {
		return v, true
	}
	v, _, null := b.lookup(config, nil)
	return v, !null
}

// resolveSecurity reads the security of every listener of c.
func (r *resolver) resolveSecurity(c Cluster) (Security, error) {
	s := Security{
		Listeners:                 map[string]ListenerSecurity{},
		InterBrokerMechanism:      strings.ToUpper(r.value("sasl.mechanism.inter.broker.protocol")),
		Authorizer:                r.value("authorizer.class.name") != "",
		AllowEveryoneIfNoACLFound: r.bool("allow.everyone.if.no.acl.found"),
	}
	for _, u := range strings.Split(r.value("super.users"), ";") {
		if u = strings.TrimSpace(u); u != "" {
			s.SuperUsers = append(s.SuperUsers, u)
		}
	}
	if r.err != nil {
		return s, r.err
	}
	for _, l := range c.Listeners {
		ls, err := r.listenerSecurity(l)
		if err != nil {
			return s, err
		}
		s.Listeners[l.Name] = ls
	}
	name, explicit := r.b.static["inter.broker.listener.name"]
	_, protocolSet := r.b.static["security.inter.broker.protocol"]
	switch {
	case explicit && protocolSet:
		return s, fmt.Errorf("config inter.broker.listener.name and security.inter.broker.protocol should not both be set")
	case explicit:
		s.InterBrokerListener = strings.ToUpper(strings.TrimSpace(name))
	default:
		// Kafka's rule: the listener named after the protocol.
		s.InterBrokerListener = r.value("security.inter.broker.protocol")
	}
	if !c.ListenersSet || !c.Roles.Broker && c.Roles.Controller {
		// The --listen shortcut is one PLAINTEXT listener, and a
		// controller-only node has no broker listener.
		if explicit {
			return s, fmt.Errorf("config inter.broker.listener.name needs config listeners")
		}
		s.InterBrokerListener = ""
		return s, nil
	}
	if !slices.ContainsFunc(c.Advertised, func(l Listener) bool { return l.Name == s.InterBrokerListener }) {
		if !explicit && !protocolSet && len(c.Advertised) == 1 {
			// One broker listener and nothing said: brokers use it.
			s.InterBrokerListener = c.Advertised[0].Name
		} else {
			return s, fmt.Errorf("config inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are %s", listenerNames(c.Advertised))
		}
	}
	if ib := s.Listeners[s.InterBrokerListener]; ib.SASLEnabled() && !slices.Contains(ib.Mechanisms, s.InterBrokerMechanism) {
		return s, fmt.Errorf("config sasl.mechanism.inter.broker.protocol: %s must be included in sasl.enabled.mechanisms of listener %s when SASL is used for inter-broker communication", s.InterBrokerMechanism, s.InterBrokerListener)
	}
	return s, nil
}

func listenerNames(ls []Listener) string {
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.Name
	}
	return strings.Join(names, ",")
}

// listenerSecurity reads one listener's settings.
func (r *resolver) listenerSecurity(l Listener) (ListenerSecurity, error) {
	get := func(config string) string { v, _ := r.b.listenerValue(l.Name, config); return v }
	prefixed := func(config string) string { return "listener.name." + strings.ToLower(l.Name) + "." + config }
	ls := ListenerSecurity{Name: l.Name, Protocol: l.Protocol, JAAS: map[string]string{}}
	if ls.TLSEnabled() {
		ls.TLS = &tlsconf.Settings{
			KeystoreType:             get("ssl.keystore.type"),
			KeystoreLocation:         get("ssl.keystore.location"),
			KeystoreCertificateChain: get("ssl.keystore.certificate.chain"),
			KeystoreKey:              get("ssl.keystore.key"),
			KeyPassword:              get("ssl.key.password"),
			TruststoreType:           get("ssl.truststore.type"),
			TruststoreLocation:       get("ssl.truststore.location"),
			TruststoreCertificates:   get("ssl.truststore.certificates"),
			ClientAuth:               get("ssl.client.auth"),
			EnabledProtocols:         splitList(get("ssl.enabled.protocols")),
			CipherSuites:             splitList(get("ssl.cipher.suites")),
			EndpointIdentification:   get("ssl.endpoint.identification.algorithm"),
		}
		if ls.TLS.KeystoreLocation == "" && ls.TLS.KeystoreCertificateChain == "" {
			return ls, fmt.Errorf("config ssl.keystore.location (or %s) must be set: listener %s uses %s", prefixed("ssl.keystore.location"), l.Name, l.Protocol)
		}
		var err error
		if ls.Principals, err = tlsconf.ParsePrincipalRules(get("ssl.principal.mapping.rules")); err != nil {
			return ls, fmt.Errorf("invalid value for config ssl.principal.mapping.rules of listener %s: %w", l.Name, err)
		}
		switch alg := ls.TLS.EndpointIdentification; strings.ToLower(alg) {
		case "https", "":
		default:
			return ls, fmt.Errorf("invalid value '%s' for config ssl.endpoint.identification.algorithm: must be https or empty", alg)
		}
	}
	if !ls.SASLEnabled() {
		return ls, nil
	}
	for _, m := range splitList(get("sasl.enabled.mechanisms")) {
		m = strings.ToUpper(m)
		if !slices.Contains(Mechanisms, m) {
			return ls, fmt.Errorf("invalid value '%s' for config sasl.enabled.mechanisms of listener %s: %s is not supported (%s are)",
				get("sasl.enabled.mechanisms"), l.Name, m, strings.Join(Mechanisms, ", "))
		}
		ls.Mechanisms = append(ls.Mechanisms, m)
		jaas, ok := r.b.static[prefixed(strings.ToLower(m)+".sasl.jaas.config")]
		if !ok {
			jaas = get("sasl.jaas.config")
		}
		if jaas != "" {
			ls.JAAS[m] = jaas
		}
	}
	if len(ls.Mechanisms) == 0 {
		return ls, fmt.Errorf("config sasl.enabled.mechanisms of listener %s must name at least one mechanism", l.Name)
	}
	ms := func(config string, unit time.Duration) time.Duration {
		v := get(config)
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			r.fail(fmt.Errorf("invalid value '%s' for config %s: not a long", v, config))
		}
		return time.Duration(n) * unit
	}
	ls.ReauthMax = ms("connections.max.reauth.ms", time.Millisecond)
	ls.OAuth = OAuth{
		JWKSURL:     get("sasl.oauthbearer.jwks.endpoint.url"),
		JWKSRefresh: ms("sasl.oauthbearer.jwks.endpoint.refresh.ms", time.Millisecond),
		Issuer:      get("sasl.oauthbearer.expected.issuer"),
		Audience:    splitList(get("sasl.oauthbearer.expected.audience")),
		SubClaim:    get("sasl.oauthbearer.sub.claim.name"),
		ScopeClaim:  get("sasl.oauthbearer.scope.claim.name"),
		ClockSkew:   ms("sasl.oauthbearer.clock.skew.seconds", time.Second),
	}
	if slices.Contains(ls.Mechanisms, "OAUTHBEARER") && ls.OAuth.JWKSURL == "" {
		return ls, fmt.Errorf("config sasl.oauthbearer.jwks.endpoint.url must be set: listener %s enables OAUTHBEARER", l.Name)
	}
	return ls, r.err
}
