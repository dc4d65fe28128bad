package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command explains itself with an example.
func TestEveryCommandHasAnExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" {
			t.Errorf("samsa %s has no Example", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("samsa %s has no Short", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, c := range Commands(Env{}) {
		walk(c)
	}
	out := ok(t, "", "", "consume", "--help")
	if !strings.Contains(out, "Examples:") || !strings.Contains(out, "--brokers") {
		t.Errorf("consume --help:\n%s", out)
	}
}

// Every command that connects takes the TLS and SASL flags; the help
// names the variables, never their values.
func TestEveryClientCommandHasSecurityFlags(t *testing.T) {
	flags := []string{"tls", "tls-ca", "tls-cert", "tls-key", "tls-server-name", "tls-insecure-skip-verify",
		"sasl-mechanism", "sasl-user", "sasl-password", "sasl-token"}
	for _, c := range Commands(Env{}) {
		offline := c.Name() == "chaos" || c.Name() == "tls"
		for _, name := range append([]string{"brokers"}, flags...) {
			if has := c.PersistentFlags().Lookup(name) != nil; has == offline {
				t.Errorf("samsa %s: has --%s %v", c.Name(), name, has)
			}
		}
	}
	env := map[string]string{"SAMSA_SASL_PASSWORD": "hunter2", "SAMSA_SASL_TOKEN": "hunter2"}
	out := samsaEnv(t, env, "", "", "user", "create", "--help").stdout
	for _, want := range []string{"--sasl-password string", "$SAMSA_SASL_PASSWORD", "--tls-ca FILE", "--password-stdin"} {
		if !strings.Contains(out, want) {
			t.Errorf("user create --help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("user create --help shows a secret:\n%s", out)
	}
}

func TestCompletion(t *testing.T) {
	b := startBroker(t)
	ok(t, b, "", "topic", "create", "alpha", "beta")
	// Cobra's hidden __complete command is what the shell scripts call.
	out := ok(t, "", "", "__complete", "topic", "describe", "--brokers", b, "")
	if !strings.Contains(out, "alpha\nbeta\n") {
		t.Errorf("topic completion:\n%s", out)
	}
	out = ok(t, "", "", "__complete", "produce", "x", "--compression", "")
	if !strings.Contains(out, "zstd") {
		t.Errorf("--compression completion:\n%s", out)
	}
	if script := ok(t, "", "", "completion", "bash"); !strings.Contains(script, "__start_samsa") {
		t.Errorf("bash completion script: %.200s", script)
	}
}
