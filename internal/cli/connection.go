package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultBrokers is where a broker started by a bare `samsa serve` listens.
const defaultBrokers = "localhost:9092"

// pingTimeout bounds the first contact with the cluster: an unreachable
// address should fail in seconds, not after kgo's retries.
const pingTimeout = 10 * time.Second

// globals are the flags shared by every client command.
type globals struct {
	env      Env
	brokers  string
	security securityFlags
}

func (g *globals) addConnectionFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVarP(&g.brokers, "brokers", "X", "",
		"bootstrap brokers, host:port,... (default $SAMSA_BROKERS, else "+defaultBrokers+")")
	g.addSecurityFlags(cmd)
}

// seeds returns the bootstrap addresses: --brokers, $SAMSA_BROKERS, or the
// default.
func (g *globals) seeds() []string {
	s := g.brokers
	if s == "" {
		s = g.env.Getenv("SAMSA_BROKERS")
	}
	if s == "" {
		s = defaultBrokers
	}
	return splitList(s)
}

// client connects to the cluster, over TLS and with a SASL login when the
// security flags say so, and checks that it answers, so that an
// unreachable cluster or a failed login is reported once and at once.
func (g *globals) client(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	sec, err := g.resolveSecurity()
	if err != nil {
		return nil, err
	}
	seeds := g.seeds()
	base := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(15 * time.Second),
	}
	base = append(base, sec.opts()...)
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("brokers %s: %w", strings.Join(seeds, ","), err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, connectError(seeds, sec, err)
	}
	return cl, nil
}

// admin is client wrapped for kadm; closing the kadm client closes both.
func (g *globals) admin(ctx context.Context) (*kadm.Client, error) {
	cl, err := g.client(ctx)
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

// unreachable turns a dial error into one line naming the addresses as the
// user gave them: "cannot reach localhost:9092: connection refused".
func unreachable(seeds []string, err error) error {
	return fmt.Errorf("cannot reach %s: %s", strings.Join(seeds, ","), reason(err))
}

// reason is the short cause of a network error, without Go's "dial tcp
// 127.0.0.1:9092: connect:" prefix.
func reason(err error) string {
	var errno syscall.Errno
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "no such host"
		}
		return dnsErr.Err
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return "timed out"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timed out"
	}
	return err.Error()
}

// commandContext is the context a command runs under: cancelled by the
// command's own context (SIGINT in cmd/samsa) or never.
func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
