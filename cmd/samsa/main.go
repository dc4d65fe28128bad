// Command samsa is the one Samsa binary: `samsa serve` runs a broker, the other
// subcommands are Kafka clients (internal/cli).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli"
)

func main() {
	root := &cobra.Command{
		Use:   "samsa",
		Short: "Samsa: a Kafka-compatible event-streaming platform in one binary",
		Long: `Samsa: a Kafka-compatible event-streaming platform in one binary.

samsa serve runs a broker; the other commands are clients for any
Kafka-compatible cluster. They connect to --brokers, else $SAMSA_BROKERS,
else localhost:9092.`,
		Example: `  samsa serve
  samsa topic create greetings -p 3
  printf 'k1:hello\nk2:world\n' | samsa produce greetings -K:
  samsa consume greetings --exit -f '%k=%v @%o\n'
  samsa completion bash > /etc/bash_completion.d/samsa`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand())
	root.AddCommand(cli.Commands(cli.Env{})...)
	// Client commands stop on SIGINT/SIGTERM through their context; serve
	// handles the signals itself.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "samsa:", err)
		os.Exit(1)
	}
}
