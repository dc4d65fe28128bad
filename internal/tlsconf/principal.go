package tlsconf

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"regexp"
	"strings"
)

// The grammar of ssl.principal.mapping.rules, as Kafka's SslPrincipalMapper
// writes it: DEFAULT, or RULE:pattern/replacement/[LU], separated by commas;
// a backslash escapes a slash or a comma inside a pattern or replacement.
const rulePattern = `(DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU]?).*?|(.*?)`

var (
	ruleSplitter = regexp.MustCompile(`\s*(` + rulePattern + `)\s*(,\s*|$)`)
	ruleParser   = regexp.MustCompile(`^(?:` + rulePattern + `)`)
)

// PrincipalMapper is ssl.principal.mapping.rules: the rules tried in order
// on a certificate's distinguished name.
type PrincipalMapper struct {
	rules []rule
	text  string
}

type rule struct {
	isDefault  bool
	match      *regexp.Regexp // the pattern, anchored: the whole DN must match
	pattern    *regexp.Regexp
	template   string // the replacement in regexp.Expand's syntax
	lower, upp bool
	text       string // as Kafka's Rule.toString prints it
}

// String lists the rules as Kafka's SslPrincipalMapper.toString does.
func (m *PrincipalMapper) String() string {
	texts := make([]string, len(m.rules))
	for i, r := range m.rules {
		texts[i] = r.text
	}
	return "[" + strings.Join(texts, ", ") + "]"
}

// ParsePrincipalRules parses ssl.principal.mapping.rules; "" is DEFAULT.
func ParsePrincipalRules(rules string) (*PrincipalMapper, error) {
	m := &PrincipalMapper{text: rules}
	for _, split := range ruleSplitter.FindAllStringSubmatch(strings.TrimSpace(rules), -1) {
		text := split[1]
		g := ruleParser.FindStringSubmatchIndex(text)
		if g == nil {
			return nil, fmt.Errorf("invalid value '%s' for config ssl.principal.mapping.rules: invalid rule: %s", rules, text)
		}
		if g[1] != len(text) {
			return nil, fmt.Errorf("invalid value '%s' for config ssl.principal.mapping.rules: invalid rule: `%s`, unmatched substring: `%s`", rules, text, text[g[1]:])
		}
		group := func(i int) (string, bool) {
			if g[2*i] < 0 {
				return "", false
			}
			return text[g[2*i]:g[2*i+1]], true
		}
		if _, ok := group(1); ok {
			m.rules = append(m.rules, rule{isDefault: true, text: "DEFAULT"})
			continue
		}
		pattern, ok := group(2)
		if !ok {
			continue // an empty rule is ignored, as in Kafka
		}
		replacement, _ := group(4)
		flag, _ := group(6)
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("invalid value '%s' for config ssl.principal.mapping.rules: pattern %q: %w", rules, pattern, err)
		}
		m.rules = append(m.rules, rule{
			match: regexp.MustCompile(`^(?:` + pattern + `)$`), pattern: re,
			template: javaReplacement(replacement, re.NumSubexp()),
			lower:    flag == "L", upp: flag == "U",
			text: "RULE:" + pattern + "/" + replacement + map[string]string{"L": "/L", "U": "/U"}[flag],
		})
	}
	return m, nil
}

// javaReplacement turns a Java replacement string ($n groups, \ escapes)
// into regexp.Expand's template. A group number is read as Java reads it,
// digit by digit while it names a group; a $n that names none is literal,
// as Kafka's escapeLiteralBackReferences makes it.
func javaReplacement(r string, groups int) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '\\' && i+1 < len(r):
			i++
			if r[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(r[i])
			}
		case c == '$' && i+1 < len(r) && r[i+1] >= '1' && r[i+1] <= '9' && int(r[i+1]-'0') <= groups:
			n, j := int(r[i+1]-'0'), i+2
			for j < len(r) && r[j] >= '0' && r[j] <= '9' && n*10+int(r[j]-'0') <= groups {
				n, j = n*10+int(r[j]-'0'), j+1
			}
			fmt.Fprintf(&b, "${%d}", n)
			i = j - 1
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Name maps a distinguished name by the first rule that applies.
func (m *PrincipalMapper) Name(dn string) (string, error) {
	for _, r := range m.rules {
		if r.isDefault {
			return dn, nil
		}
		if !r.match.MatchString(dn) {
			continue
		}
		name := r.pattern.ReplaceAllString(dn, r.template)
		switch {
		case r.lower:
			name = strings.ToLower(name)
		case r.upp:
			name = strings.ToUpper(name)
		}
		return name, nil
	}
	return "", fmt.Errorf("no rules apply to %s, rules %s", dn, m.text)
}

// Anonymous is the principal of a connection that proved no identity.
const Anonymous = "User:ANONYMOUS"

// Principal is the Kafka principal of a TLS connection, as Kafka's
// DefaultKafkaPrincipalBuilder names it: "User:" and the mapped subject of
// the peer's certificate in RFC 2253 form (most specific RDN first, the
// certificate's own order), or User:ANONYMOUS without a certificate.
func Principal(state tls.ConnectionState, m *PrincipalMapper) (string, error) {
	if len(state.PeerCertificates) == 0 {
		return Anonymous, nil
	}
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(state.PeerCertificates[0].RawSubject, &rdns); err != nil || len(rest) > 0 {
		return "", fmt.Errorf("tlsconf: malformed certificate subject")
	}
	name, err := m.Name(rdns.String())
	if err != nil {
		return "", err
	}
	return "User:" + name, nil
}
