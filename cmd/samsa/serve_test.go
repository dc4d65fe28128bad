package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// TestMain lets a test run this binary's main: with SAMSA_TEST_MAIN set, the
// test binary is samsa, with the arguments after "--".
func TestMain(m *testing.M) {
	if os.Getenv("SAMSA_TEST_MAIN") != "" {
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"samsa"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestServeDamagedMetadataLog starts `samsa serve` on a data directory whose
// metadata log is damaged: the process must exit non-zero with a message
// naming the log directory and the damage, never a panic.
func TestServeDamagedMetadataLog(t *testing.T) {
	dir := t.TempDir()
	b, err := broker.Start(broker.Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	walDir := filepath.Join(dir, "__metadata", "wal")
	if err := os.WriteFile(filepath.Join(walDir, "wal-meta.db"), []byte(strings.Repeat("\xff", 16384)), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-level", "error")
	cmd.Env = append(os.Environ(), "SAMSA_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("samsa serve: %v, want exit status 1; output:\n%s", err, out)
	}
	msg := string(out)
	t.Logf("samsa serve exited %d:\n%s", exit.ExitCode(), msg)
	for _, want := range []string{"samsa: ", walDir, "is damaged", "invalid database"} {
		if !strings.Contains(msg, want) {
			t.Errorf("output does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine ") {
		t.Errorf("output shows a panic:\n%s", msg)
	}
}

// TestServeRefusesBadDialOverrides: a malformed --internal-dial-overrides
// stops samsa serve at start-up with a message naming the flag and entry.
func TestServeRefusesBadDialOverrides(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0",
		"--log-level", "error", "--internal-dial-overrides", "127.0.0.1:9092=>nowhere")
	cmd.Env = append(os.Environ(), "SAMSA_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("samsa serve: %v, want exit status 1; output:\n%s", err, out)
	}
	if want := `--internal-dial-overrides: dial override "127.0.0.1:9092=>nowhere"`; !strings.Contains(string(out), want) {
		t.Fatalf("output does not say %q:\n%s", want, out)
	}
}
