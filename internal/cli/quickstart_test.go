package cli

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestReadmeQuickstart runs the README's quickstart commands as written,
// against an in-process broker instead of localhost:9092.
func TestReadmeQuickstart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := quickstartLines(t, string(readme))
	b := startBroker(t)
	outputs := map[string]string{}
	ran := 0
	for _, line := range lines {
		words, err := shellWords(line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if len(words) == 0 {
			continue
		}
		if words[0] == "go" {
			// Builds and starts the broker: startBroker's job here.
			if !strings.Contains(line, "./samsa serve") {
				t.Errorf("unexpected set-up line: %s", line)
			}
			continue
		}
		stdin := ""
		if words[0] == "printf" {
			if len(words) < 3 || words[2] != "|" {
				t.Fatalf("want printf 'FORMAT' | ./samsa ...: %s", line)
			}
			stdin = printfEscapes(words[1])
			words = words[3:]
		}
		if words[0] != "./samsa" {
			t.Fatalf("quickstart line does not run ./samsa: %s", line)
		}
		out := ok(t, b, stdin, words[1:]...)
		outputs[strings.Join(words[1:3], " ")] += out
		ran++
	}
	if ran < 8 {
		t.Fatalf("ran %d quickstart commands, want the whole list:\n%s", ran, strings.Join(lines, "\n"))
	}
	checks := map[string][]string{
		"produce greetings":   {"greetings[", "offset 0"},
		"consume greetings":   {"k1=hello @", "k2=world @"},
		"topic describe":      {"PARTITION", "LOG-END"},
		"group describe":      {"greeters", "TOTAL-LAG    0"},
		"group reset-offsets": {"Dry run"},
		"cluster info":        {"CONTROLLER"},
		"bench e2e":           {"p99.9 ms"},
	}
	for cmd, wants := range checks {
		for _, want := range wants {
			if !strings.Contains(outputs[cmd], want) {
				t.Errorf("samsa %s: output lacks %q:\n%s", cmd, want, outputs[cmd])
			}
		}
	}
}

// quickstartLines returns the lines of the first code block under the
// README's Quickstart heading.
func quickstartLines(t *testing.T, readme string) []string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Quickstart")
	if !ok {
		t.Fatal("README.md has no Quickstart section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok := strings.Cut(section, "```\n")
	if !ok {
		t.Fatal("Quickstart has no code block")
	}
	block, _, _ = strings.Cut(block, "```")
	return strings.Split(strings.TrimSpace(block), "\n")
}

// shellWords splits a line the way sh would for the quickstart's simple
// commands: single and double quotes, a comment from an unquoted #, and |,
// &&, & as words of their own.
func shellWords(line string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
		quote  byte
	)
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			flush()
		case c == '#' && !inWord:
			flush()
			return words, nil
		case c == '|' || c == '&':
			flush()
			if c == '&' && i+1 < len(line) && line[i+1] == '&' {
				i++
				words = append(words, "&&")
			} else {
				words = append(words, string(c))
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed quote")
	}
	flush()
	return words, nil
}

// printfEscapes expands the escapes printf(1) would in a format without
// directives.
func printfEscapes(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(s)
}
