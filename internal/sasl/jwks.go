package sasl

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Limits of the JWKS cache. The missing key id bounds are Kafka's
// (RefreshingHttpsJwks); the rest are ours.
const (
	// missingKeyIDRetry is how long a key id that a refresh did not find
	// waits before it may cause another refresh.
	missingKeyIDRetry = 60 * time.Second
	// missingKeyIDEntries bounds the key ids remembered as missing.
	missingKeyIDEntries = 16
	// missingKeyIDMaxLength: a longer key id is taken as malformed and never
	// causes a refresh.
	missingKeyIDMaxLength = 1000
	// forcedRefreshGap is the least time between two refreshes caused by
	// unknown key ids, whatever the ids: Kafka's per-id limit alone lets a
	// client that makes up a new id for every connection fetch the JWKS
	// every time.
	forcedRefreshGap = time.Second
	// jwksFetchTimeout bounds one fetch, on top of the HTTP client's own
	// timeout if it has one.
	jwksFetchTimeout = 10 * time.Second
	// jwksMaxSize bounds the document read.
	jwksMaxSize = 1 << 20
)

// jwksCache holds the verification keys of a JWKS and refreshes them on use:
// when they are older than the refresh interval, and when a token names a
// key id they lack. It owns no goroutine; the goroutine asking for keys
// fetches, so there is nothing to stop.
type jwksCache struct {
	location string
	fetch    func(context.Context) ([]byte, error)
	refresh  time.Duration
	backoff  time.Duration
	// backoffMax bounds the exponential backoff after failed refreshes.
	backoffMax time.Duration
	now        func() time.Time
	logger     *slog.Logger

	// fetching is held while one goroutine fetches, so that fetches do not
	// pile up; it is taken before mu, never while holding mu.
	fetching sync.Mutex

	mu            sync.Mutex
	keys          []jose.JSONWebKey
	fetchedAt     time.Time
	retryAt       time.Time // after a failed refresh, no attempt before this
	failures      int
	lastForced    time.Time
	missingKeyIDs map[string]time.Time // key id -> when it may cause a refresh again
}

// newJWKSCache makes the cache for a JWKS URL: https:// or http:// fetched
// with client, or file:// read from disk (which Kafka allows for tests and
// for keys distributed as files).
func newJWKSCache(location string, client *http.Client, refresh, backoff, backoffMax time.Duration,
	now func() time.Time, logger *slog.Logger,
) (*jwksCache, error) {
	parsed, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("sasl: sasl.oauthbearer.jwks.endpoint.url: %w", err)
	}
	cache := &jwksCache{
		location:      location,
		refresh:       refresh,
		backoff:       backoff,
		backoffMax:    backoffMax,
		now:           now,
		logger:        logger,
		missingKeyIDs: map[string]time.Time{},
	}
	switch parsed.Scheme {
	case "https", "http":
		cache.fetch = func(ctx context.Context) ([]byte, error) { return fetchHTTP(ctx, client, location) }
	case "file":
		path := parsed.Path
		if path == "" {
			path = parsed.Opaque
		}
		if path == "" {
			return nil, fmt.Errorf("sasl: sasl.oauthbearer.jwks.endpoint.url %q names no file", location)
		}
		cache.fetch = func(context.Context) ([]byte, error) { return readFileLimited(path) }
	default:
		return nil, fmt.Errorf("sasl: sasl.oauthbearer.jwks.endpoint.url %q: the URL protocol must be https, http or file", location)
	}
	return cache, nil
}

func fetchHTTP(ctx context.Context, client *http.Client, location string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, err
	}
	request.Header.Set("Accept", "application/json")
	response, err := client.Do(request)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s", response.Status)
	}
	return readLimited(response.Body)
}

func readFileLimited(path string) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return readLimited(file)
}

func readLimited(reader io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(reader, jwksMaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > jwksMaxSize {
		return nil, fmt.Errorf("JWKS larger than %d bytes", jwksMaxSize)
	}
	return body, nil
}

// load fetches the keys for the first time; an error here is a broker
// configuration error, as Kafka fails its startup when it cannot get the
// JWKS.
func (c *jwksCache) load() error {
	c.fetching.Lock()
	defer c.fetching.Unlock()
	return c.refreshLocked()
}

// refreshLocked fetches and, if the document parses, replaces the keys. The
// caller holds fetching.
func (c *jwksCache) refreshLocked() error {
	document, err := c.fetch(context.Background())
	var keys []jose.JSONWebKey
	if err == nil {
		keys, err = parseJWKS(document, c.logger)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if err != nil {
		c.failures++
		wait := c.backoff << min(c.failures-1, 30)
		if wait > c.backoffMax || wait <= 0 {
			wait = c.backoffMax
		}
		c.retryAt = now.Add(wait)
		return fmt.Errorf("refreshing the JWKS from %s: %w", c.location, err)
	}
	c.keys = keys
	c.fetchedAt = now
	c.failures = 0
	c.retryAt = time.Time{}
	for _, key := range keys {
		delete(c.missingKeyIDs, key.KeyID)
	}
	return nil
}

// candidates returns the keys that may have signed a token with keyID: those
// with that id, or all of them for a token without one. Stale keys are
// refreshed first; an id the keys lack causes one refresh, rate limited.
func (c *jwksCache) candidates(keyID string) []jose.JSONWebKey {
	c.maybeRefreshStale()
	keys := c.matching(keyID)
	if len(keys) > 0 || keyID == "" || !c.mayForceRefresh(keyID) {
		return keys
	}
	c.fetching.Lock()
	// Another goroutine may have fetched while this one waited.
	if keys = c.matching(keyID); len(keys) == 0 {
		if err := c.refreshLocked(); err != nil {
			c.logger.Warn("sasl: OAuth JWKS refresh for an unknown key id failed; keeping the last keys", "error", err)
		}
		keys = c.matching(keyID)
	}
	c.fetching.Unlock()
	return keys
}

// maybeRefreshStale refreshes keys older than the refresh interval. If
// another goroutine is already fetching, the current keys serve meanwhile.
func (c *jwksCache) maybeRefreshStale() {
	c.mu.Lock()
	now := c.now()
	stale := !now.Before(c.fetchedAt.Add(c.refresh)) && !now.Before(c.retryAt)
	c.mu.Unlock()
	if !stale || !c.fetching.TryLock() {
		return
	}
	defer c.fetching.Unlock()
	if err := c.refreshLocked(); err != nil {
		c.logger.Warn("sasl: OAuth JWKS refresh failed; keeping the last keys", "error", err)
	}
}

func (c *jwksCache) matching(keyID string) []jose.JSONWebKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	if keyID == "" {
		return c.keys
	}
	var keys []jose.JSONWebKey
	for _, key := range c.keys {
		if key.KeyID == keyID {
			keys = append(keys, key)
		}
	}
	return keys
}

// mayForceRefresh applies Kafka's limits to a refresh for a missing key id,
// and records the attempt.
func (c *jwksCache) mayForceRefresh(keyID string) bool {
	if len(keyID) > missingKeyIDMaxLength {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if next, seen := c.missingKeyIDs[keyID]; seen && now.Before(next) {
		return false
	}
	if !c.lastForced.IsZero() && now.Before(c.lastForced.Add(forcedRefreshGap)) {
		return false
	}
	if len(c.missingKeyIDs) >= missingKeyIDEntries {
		// Forget the entry that frees up soonest, like Kafka's LRU does
		// its oldest.
		var oldestID string
		var oldest time.Time
		for id, next := range c.missingKeyIDs {
			if oldestID == "" || next.Before(oldest) {
				oldestID, oldest = id, next
			}
		}
		delete(c.missingKeyIDs, oldestID)
	}
	c.missingKeyIDs[keyID] = now.Add(missingKeyIDRetry)
	c.lastForced = now
	return true
}

// parseJWKS reads a JWK Set (RFC 7517 section 5). Keys that do not parse, or
// are not public signing keys, are skipped with a log line, as jose4j skips
// keys it cannot use; a document that is not a JWK Set is an error.
func parseJWKS(document []byte, logger *slog.Logger) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(document, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New("not a JWK Set: no \"keys\" array")
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for i, raw := range set.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(raw); err != nil {
			logger.Debug("sasl: skipping a JWK that does not parse", "index", i, "error", err)
			continue
		}
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		public := key.Public()
		switch public.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			keys = append(keys, public)
		default:
			logger.Debug("sasl: skipping a JWK that is not an RSA, EC or Ed25519 key", "index", i, "kid", key.KeyID)
		}
	}
	return keys, nil
}
