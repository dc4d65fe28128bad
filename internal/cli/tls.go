package cli

import "github.com/spf13/cobra"

// newTLSCommand is `samsa tls`: certificates for trying TLS out. It works
// on files only and takes no connection flags.
func newTLSCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Make development certificates for TLS listeners and clients",
		Example: `  samsa tls dev-certs --dir certs
  samsa tls dev-certs --dir certs --host broker1.internal --client alice`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newTLSDevCertsCommand())
	return cmd
}
