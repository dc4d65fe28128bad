// Package tlsconf builds crypto/tls configurations from Kafka's ssl.*
// configs, and maps client certificates to Kafka principals.
//
// Only PEM material is read (ssl.keystore.type=PEM and
// ssl.truststore.type=PEM, as files or inline text); JKS and PKCS#12 stores
// are refused with the config named, and so are encrypted private keys.
// Certificates and trust stores given as files are reloaded without a
// restart: the handshake callbacks look at the files at most once per
// reload interval and, if they changed, parse them again; a file that no
// longer parses is logged and the last good material kept, so a half
// written renewal never takes a listener down.
//
// The principal of a TLS client follows Kafka's DefaultKafkaPrincipalBuilder:
// User:ANONYMOUS without a client certificate, otherwise the subject's
// distinguished name in RFC 2253 form rewritten by ssl.principal.mapping.rules
// with the grammar and semantics of Kafka's SslPrincipalMapper.
//
// Why our own: Go's crypto/tls does the protocol; what is here is the mapping
// of Kafka's config names and principal rules onto it, which no library does.
package tlsconf
