package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/tlsconf"
)

func newTLSDevCertsCommand() *cobra.Command {
	var (
		dir       string
		hosts     []string
		clients   []string
		valid     time.Duration
		overwrite bool
	)
	cmd := &cobra.Command{
		Use:   "dev-certs --dir DIR",
		Short: "Write a development CA, a broker certificate and client certificates",
		Long: `Write a new certificate authority (ca.pem, ca-key.pem), a broker certificate
with its key for --host names and addresses (server.pem), and for each
--client NAME a client certificate with its key whose subject is CN=NAME
(client-NAME.pem, principal User:CN=NAME). Keys are written readable by the
owner only. Then print the broker configs and client flags that use them.

For development and tests: the CA key sits next to the certificates. A
directory that already holds a ca.pem is refused unless --overwrite, since a
new CA does not trust the certificates issued by the old one.`,
		Example: `  samsa tls dev-certs --dir certs
  samsa tls dev-certs --dir certs --host localhost --host 10.0.0.1 --client alice --valid 720h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return errors.New("--dir is required: the directory to write the certificates into")
			}
			if len(hosts) == 0 {
				return errors.New("--host: give at least one host name or address for the broker certificate")
			}
			for _, h := range hosts {
				if strings.TrimSpace(h) == "" {
					return errors.New("--host: empty host name")
				}
			}
			for _, c := range clients {
				if c == "" || filepath.Base(c) != c || strings.ContainsAny(c, `/\`) {
					return fmt.Errorf("--client %q: want a plain name, such as alice", c)
				}
			}
			if valid <= 0 {
				return fmt.Errorf("--valid %s: want a positive duration, such as 8760h", valid)
			}
			if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err == nil && !overwrite {
				return fmt.Errorf("%s already holds a CA (ca.pem): choose another --dir, or --overwrite to replace it and the certificates it issued", dir)
			}
			paths, err := tlsconf.DevCerts(dir, hosts, clients, valid)
			if err != nil {
				return err
			}
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			return printDevCerts(cmd.OutOrStdout(), dir, abs, paths, hosts, clients, valid)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory to write the certificates into (created if missing)")
	f.StringArrayVar(&hosts, "host", []string{"localhost", "127.0.0.1"}, "a host name or IP address the broker certificate is valid for (repeatable)")
	f.StringArrayVar(&clients, "client", nil, "write a client certificate with CN=NAME (repeatable)")
	f.DurationVar(&valid, "valid", 365*24*time.Hour, "how long the certificates are valid")
	f.BoolVar(&overwrite, "overwrite", false, "replace a CA already in --dir")
	_ = cmd.MarkFlagDirname("dir")
	return cmd
}

// printDevCerts says what was written and how to use it: the broker's
// configs with absolute paths (a broker may start elsewhere), the client
// flags with the paths as given.
func printDevCerts(w io.Writer, dir, abs string, paths, hosts, clients []string, valid time.Duration) error {
	what := map[string]string{
		"ca.pem":     "CA certificate: the truststore of brokers and clients",
		"ca-key.pem": "CA private key: keep it secret (it signs certificates anyone will trust)",
		"server.pem": "broker certificate and key, for " + strings.Join(hosts, ", "),
	}
	for _, c := range clients {
		what["client-"+c+".pem"] = "client certificate and key, CN=" + c + " (principal User:CN=" + c + ")"
	}
	fmt.Fprintf(w, "Wrote, valid for %s:\n", valid)
	t := newTable(w)
	for _, p := range paths {
		t.row("  "+p, what[filepath.Base(p)])
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, `
Broker configs (server.properties, or samsa serve --set NAME=VALUE):
  listeners=SSL://localhost:9093              # or SASL_SSL://... for TLS with SASL logins
  ssl.keystore.location=%s
  ssl.truststore.location=%s
`, filepath.Join(abs, "server.pem"), filepath.Join(abs, "ca.pem"))
	if len(clients) > 0 {
		fmt.Fprintln(w, "  ssl.client.auth=required                    # to require client certificates")
	}
	fmt.Fprintf(w, "\nClient flags:\n  --tls --tls-ca %s\n", filepath.Join(dir, "ca.pem"))
	for _, c := range clients {
		fmt.Fprintf(w, "  --tls --tls-ca %s --tls-cert %s\n", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client-"+c+".pem"))
	}
	return nil
}
