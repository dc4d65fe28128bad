package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/netfault"
)

func newServeCommand() *cobra.Command {
	var (
		dataDir, listen, advertise, configFile, logLevel, dialOverrides string
		sets                                                            []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Samsa broker",
		Long: `Run a Samsa node. With no flags it is a single-node broker listening on
localhost:9092 with its data in ./samsa-data. Broker configs use Kafka's names;
with process.roles, controller.quorum.voters, listeners and
controller.listener.names it is a node of a cluster (broker, controller, or both).`,
		Example: `  samsa serve
  samsa serve --listen 127.0.0.1:0 --data-dir /tmp/samsa
  samsa serve --set num.partitions=8 --set log.retention.hours=24
  samsa serve --config server.properties`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			static := map[string]string{}
			if configFile != "" {
				f, err := os.Open(configFile)
				if err != nil {
					return err
				}
				props, err := config.ParseProperties(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", configFile, err)
				}
				static = props
			}
			for _, s := range sets {
				name, value, ok := strings.Cut(s, "=")
				if !ok {
					return fmt.Errorf("--set %q: want name=value", s)
				}
				static[strings.TrimSpace(name)] = strings.TrimSpace(value)
			}
			if _, ok := static["listeners"]; ok && !cmd.Flags().Changed("listen") {
				listen = "" // the listeners config replaces the --listen shortcut
			}
			cfg := broker.Config{
				DataDir:   dataDir,
				Listen:    listen,
				Advertise: advertise,
				Static:    static,
				Logger:    logger,
			}
			if dialOverrides != "" {
				overrides, err := netfault.ParseOverrides(dialOverrides)
				if err != nil {
					return fmt.Errorf("--internal-dial-overrides: %w", err)
				}
				logger.Warn("inter-node connections go through dial overrides (--internal-dial-overrides, for samsa chaos)", "overrides", dialOverrides)
				cfg.Dial = netfault.Dialer(overrides)
			}
			b, err := broker.Start(cfg)
			if err != nil {
				return err
			}
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
			s := <-sig
			logger.Info("shutting down", "signal", s.String())
			return b.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "samsa-data", "directory for the metadata and every partition's log")
	f.StringVar(&listen, "listen", "localhost:9092", "Kafka listener address, a shortcut for listeners=PLAINTEXT://ADDR; port 0 picks a free port")
	f.StringVar(&advertise, "advertise", "", "address clients are told to connect to, a shortcut for advertised.listeners=PLAINTEXT://ADDR (default: the listener's)")
	f.StringVar(&configFile, "config", "", "broker configs in Java properties format")
	f.StringArrayVar(&sets, "set", nil, "set a broker config, name=value (repeatable; wins over --config)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	// samsa chaos routes every connection a node makes to another node (replica
	// fetches, raft, the controller RPC) through its fault proxies: each
	// dest=>via sends a dial of dest to via. Not for production use.
	f.StringVar(&dialOverrides, "internal-dial-overrides", "", "internal, for samsa chaos: dest-host:port=>via-host:port,... sends this node's connections to other nodes for dest to via")
	return cmd
}
