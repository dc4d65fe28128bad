package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestListenerSecurity(t *testing.T) {
	b, err := NewBroker(map[string]string{
		"listeners":                                                  "PLAINTEXT://:9092,SSL://:9093,SASL_SSL://:9094,INTERNAL://:9095",
		"listener.security.protocol.map":                             "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,INTERNAL:SASL_PLAINTEXT",
		"inter.broker.listener.name":                                 "internal",
		"ssl.keystore.location":                                      "/certs/broker.pem",
		"ssl.truststore.location":                                    "/certs/ca.pem",
		"listener.name.ssl.ssl.client.auth":                          "required",
		"listener.name.ssl.ssl.principal.mapping.rules":              "RULE:^CN=(.*?),.*$/$1/L,DEFAULT",
		"listener.name.sasl_ssl.ssl.keystore.location":               "/certs/public.pem",
		"listener.name.sasl_ssl.sasl.enabled.mechanisms":             "SCRAM-SHA-512,oauthbearer",
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":      `org.apache.kafka.common.security.scram.ScramLoginModule required;`,
		"listener.name.sasl_ssl.sasl.oauthbearer.jwks.endpoint.url":  "https://idp/jwks",
		"listener.name.sasl_ssl.sasl.oauthbearer.expected.audience":  "kafka,samsa",
		"listener.name.sasl_ssl.connections.max.reauth.ms":           "60000",
		"listener.name.internal.sasl.enabled.mechanisms":             "PLAIN",
		"sasl.mechanism.inter.broker.protocol":                       "PLAIN",
		"sasl.jaas.config":                                           `org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="b";`,
		"super.users":                                                "User:broker; User:admin",
		"authorizer.class.name":                                      "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"listener.name.sasl_ssl.sasl.oauthbearer.clock.skew.seconds": "5",
	})
	if err != nil {
		t.Fatal(err)
	}
	s := b.Static().Security
	if s.InterBrokerListener != "INTERNAL" || s.InterBrokerMechanism != "PLAIN" || !s.Authorizer || s.AllowEveryoneIfNoACLFound {
		t.Errorf("security %+v", s)
	}
	if !reflect.DeepEqual(s.SuperUsers, []string{"User:broker", "User:admin"}) {
		t.Errorf("super users %q", s.SuperUsers)
	}
	if l := s.Listeners["PLAINTEXT"]; l.TLS != nil || l.SASLEnabled() {
		t.Errorf("PLAINTEXT %+v", l)
	}
	ssl := s.Listeners["SSL"]
	if !ssl.TLSEnabled() || ssl.TLS.ClientAuth != "required" || ssl.TLS.KeystoreLocation != "/certs/broker.pem" || ssl.TLS.TruststoreLocation != "/certs/ca.pem" || ssl.TLS.EndpointIdentification != "https" {
		t.Errorf("SSL %+v %+v", ssl, ssl.TLS)
	}
	if name, err := ssl.Principals.Name("CN=Alice,OU=Eng"); err != nil || name != "alice" {
		t.Errorf("SSL principal %q, %v", name, err)
	}
	public := s.Listeners["SASL_SSL"]
	if public.TLS.KeystoreLocation != "/certs/public.pem" || public.TLS.ClientAuth != "none" {
		t.Errorf("SASL_SSL TLS %+v", public.TLS)
	}
	if !reflect.DeepEqual(public.Mechanisms, []string{"SCRAM-SHA-512", "OAUTHBEARER"}) || public.ReauthMax != time.Minute {
		t.Errorf("SASL_SSL %+v", public)
	}
	if public.JAAS["SCRAM-SHA-512"] != `org.apache.kafka.common.security.scram.ScramLoginModule required;` || !strings.Contains(public.JAAS["OAUTHBEARER"], "PlainLoginModule") {
		t.Errorf("SASL_SSL JAAS %q", public.JAAS)
	}
	want := OAuth{JWKSURL: "https://idp/jwks", JWKSRefresh: time.Hour, Audience: []string{"kafka", "samsa"}, SubClaim: "sub", ScopeClaim: "scope", ClockSkew: 5 * time.Second}
	if !reflect.DeepEqual(public.OAuth, want) {
		t.Errorf("SASL_SSL OAuth %+v, want %+v", public.OAuth, want)
	}
	if in := s.Listeners["INTERNAL"]; in.TLS != nil || !in.SASLEnabled() || !reflect.DeepEqual(in.Mechanisms, []string{"PLAIN"}) {
		t.Errorf("INTERNAL %+v", in)
	}
}

func TestSecurityRefusals(t *testing.T) {
	sasl := func(kv ...string) map[string]string {
		m := map[string]string{"listeners": "SASL_PLAINTEXT://:9092", "sasl.enabled.mechanisms": "PLAIN", "sasl.mechanism.inter.broker.protocol": "PLAIN"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		want string
	}{
		{"unknown prefixed config", sasl("listener.name.sasl_plaintext.ssl.nope", "1"), "unknown config 'listener.name.sasl_plaintext.ssl.nope'"},
		{"prefixed non-listener config", sasl("listener.name.sasl_plaintext.num.partitions", "1"), "unknown config 'listener.name.sasl_plaintext.num.partitions'"},
		{"jaas of an unknown mechanism", sasl("listener.name.sasl_plaintext.gssapi.sasl.jaas.config", "x"), "unknown config 'listener.name.sasl_plaintext.gssapi.sasl.jaas.config'"},
		{"bad prefixed value", sasl("listener.name.sasl_plaintext.ssl.client.auth", "always"), "invalid value 'always' for config listener.name.sasl_plaintext.ssl.client.auth"},
		{"unsupported mechanism", sasl("sasl.enabled.mechanisms", "PLAIN,GSSAPI"), "GSSAPI is not supported"},
		{"inter-broker mechanism not enabled", sasl("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-256"),
			"config sasl.mechanism.inter.broker.protocol: SCRAM-SHA-256 must be included in sasl.enabled.mechanisms of listener SASL_PLAINTEXT"},
		{"oauthbearer without jwks", sasl("sasl.enabled.mechanisms", "PLAIN,OAUTHBEARER"), "config sasl.oauthbearer.jwks.endpoint.url must be set: listener SASL_PLAINTEXT enables OAUTHBEARER"},
		{"bad mapping rules", map[string]string{"listeners": "SSL://:9093", "ssl.keystore.location": "k", "ssl.principal.mapping.rules": "RULE:oops"},
			"invalid value for config ssl.principal.mapping.rules of listener SSL"},
		{"bad endpoint identification", map[string]string{"listeners": "SSL://:9093", "ssl.keystore.location": "k", "ssl.endpoint.identification.algorithm": "dns"},
			"invalid value 'dns' for config ssl.endpoint.identification.algorithm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBroker(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
