// Package sasl is the server side of Kafka's SASL mechanisms: PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER, answering clients as Apache
// Kafka 4.x's PlainSaslServer, ScramSaslServer and OAuthBearerSaslServer
// (with BrokerJwtValidator) do, down to the error texts.
//
// The broker drives it from its SaslHandshake and SaslAuthenticate
// handlers: an Authenticator per listener, made by New from a Config whose
// fields carry the values of Kafka's configs (the caller reads the configs);
// Mechanisms for the handshake's list; NewServer for each exchange; then
// Server.Step with each client message, sending back what it returns, until
// Step reports done (Result says who: Principal() is "User:<name>", Expiry
// is the token's exp for KIP-368 re-authentication) or fails with an
// *AuthenticationError, whose Error text is the message Kafka would send in
// SaslAuthenticate's error_message and whose Detail is for the log. Nothing
// in either is a secret.
//
// The exchanges (C client, S server; ^A is the byte 0x01):
//
//	PLAIN        C: [authzid] NUL user NUL password
//	             S: (empty), done
//	SCRAM-SHA-*  C: n,[a=authzid],n=user,r=client-nonce[,ext=value...]
//	             S: r=client-nonce+server-nonce,s=base64(salt),i=iterations
//	             C: c=base64(gs2 header),r=nonce[,ext=value...],p=base64(proof)
//	             S: v=base64(server signature), done
//	OAUTHBEARER  C: n,[a=authzid],^Aauth=Bearer <jwt>^A[key=value^A...]^A
//	             S: (empty), done
//	         or  S: {"status":"invalid_token"}
//	             C: ^A
//	             S: fails with {"status":"invalid_token"} as the message
//
// What is our own, and why: the Kafka-specific parts that no library has.
// ParseJAASConfig reads the text of sasl.jaas.config with the tokenizing
// rules of Java's StreamTokenizer as Kafka's JaasConfig sets it up, because
// that is the format Kafka users already have. The message grammars (Kafka's
// ScramMessages patterns, OAuthBearerClientInitialResponse) are checked here
// first, so that what Kafka refuses is refused, ASCII names included. The
// JWT claims rules are Kafka's and jose4j's: exp and iat required, exp and
// nbf against the injected clock with sasl.oauthbearer.clock.skew.seconds,
// iss and aud against the expected values (a token with an aud claim is
// refused when no audience is expected, as jose4j does by default), the
// subject from sasl.oauthbearer.sub.claim.name, the scope claim as a string
// (one scope) or array. The JWKS cache is ours too: it refreshes on use,
// when the keys are older than sasl.oauthbearer.jwks.endpoint.refresh.ms
// or, rate-limited by Kafka's per-key-id minute and a one-second floor of
// ours, when a token names a key id it lacks; a failed refresh keeps the
// last keys and backs off by the jwks.endpoint.retry.backoff configs.
//
// What the libraries do: github.com/xdg-go/scram runs RFC 5802's
// conversation (nonce, channel-binding and proof checks, server signature)
// and derives keys from passwords; github.com/go-jose/go-jose/v4 parses JWK
// Sets and compact JWS and verifies RSA, RSA-PSS, ECDSA and Ed25519
// signatures.
//
// Goroutines: none. Servers are used from the connection's goroutine; the
// Authenticator, the credential stores and the JWTValidator are safe for
// concurrent use, and the goroutine that needs fresh keys fetches them
// (others keep using the current keys meanwhile), so there is nothing to
// stop. Differences from Kafka, each for a reason given where it is made:
// delegation tokens (SCRAM's tokenauth) are refused; a SCRAM "m=" attribute
// is refused rather than ignored; after an OAUTHBEARER error challenge
// anything but ^A fails the exchange; HMAC-signed JWTs are not accepted.
package sasl
