package sasl

import (
	"errors"
	"fmt"
	"strings"
)

// The login module classes Kafka's sasl.jaas.config names for each
// mechanism.
const (
	PlainLoginModule       = "org.apache.kafka.common.security.plain.PlainLoginModule"
	ScramLoginModule       = "org.apache.kafka.common.security.scram.ScramLoginModule"
	OAuthBearerLoginModule = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
)

// ControlFlag is a JAAS login module's control flag.
type ControlFlag string

// The four JAAS control flags, as Kafka spells them after upper-casing.
const (
	Required   ControlFlag = "REQUIRED"
	Requisite  ControlFlag = "REQUISITE"
	Sufficient ControlFlag = "SUFFICIENT"
	Optional   ControlFlag = "OPTIONAL"
)

// JAASEntry is one login module of a sasl.jaas.config value: Java's
// AppConfigurationEntry. Options hold secrets (password, user_<name>): never
// log or print an entry.
type JAASEntry struct {
	LoginModule string
	Flag        ControlFlag
	Options     map[string]string
}

// Credentials returns the username and password options: in a broker's
// listener.name.<listener>.<mechanism>.sasl.jaas.config they are the
// broker's own credentials for inter-broker connections. ok is false unless
// both are present.
func (e JAASEntry) Credentials() (username, password string, ok bool) {
	username, hasUsername := e.Options["username"]
	password, hasPassword := e.Options["password"]
	return username, password, hasUsername && hasPassword
}

// ErrJAASConfig is matched, with errors.Is, by every error ParseJAASConfig
// returns. The messages are Kafka's; they name option keys, never values.
var ErrJAASConfig = errors.New("sasl: invalid JAAS config")

type jaasError string

func (e jaasError) Error() string        { return "sasl: " + string(e) }
func (e jaasError) Is(target error) bool { return target == ErrJAASConfig }

// ParseJAASConfig parses the text of a sasl.jaas.config value,
//
//	<loginModuleClass> <controlFlag> (<optionName>=<optionValue>)*; ...
//
// exactly as Kafka's JaasConfig does with java.io.StreamTokenizer: bytes up
// to space are whitespace; the double quote and the apostrophe quote, with
// Java's escapes (\n, \t, \", \\, octal \377, ...) and a quote that a line
// end closes; '/' starts a comment (//, /* */ and, Java's quirk, a lone '/'
// comments out the rest of the line); ';' and '=' stand alone; everything
// else makes words. Each entry ends with ';'. A key given twice keeps its
// last value.
func ParseJAASConfig(text string) ([]JAASEntry, error) {
	tokenizer := newJAASTokenizer(text)
	var entries []JAASEntry
	for token := tokenizer.next(); token.kind != tokenEnd; token = tokenizer.next() {
		entry, err := parseJAASEntry(tokenizer, token)
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry)
	}
	if len(entries) == 0 {
		return nil, jaasError("Login module not specified in JAAS config")
	}
	return entries, nil
}

// ParseJAASEntry parses a sasl.jaas.config value that must hold exactly one
// login module, as Kafka requires of the property (JaasContext: "JAAS config
// property contains N login modules, should be 1 module").
func ParseJAASEntry(text string) (JAASEntry, error) {
	entries, err := ParseJAASConfig(text)
	if err != nil {
		return JAASEntry{}, err
	}
	if len(entries) != 1 {
		return JAASEntry{}, jaasError(fmt.Sprintf("JAAS config property contains %d login modules, should be 1 module", len(entries)))
	}
	return entries[0], nil
}

func parseJAASEntry(tokenizer *jaasTokenizer, first jaasToken) (JAASEntry, error) {
	if !first.hasText || first.text == "" {
		// Java's AppConfigurationEntry refuses a null or empty class name.
		return JAASEntry{}, jaasError("Login module name not specified in JAAS config")
	}
	entry := JAASEntry{LoginModule: first.text, Options: map[string]string{}}

	flagToken := tokenizer.next()
	if flagToken.kind == tokenEnd {
		return JAASEntry{}, jaasError("Login module control flag not specified in JAAS config")
	}
	if !flagToken.hasText {
		return JAASEntry{}, jaasError("Login module control flag is not available in the JAAS config")
	}
	switch flag := ControlFlag(strings.ToUpper(flagToken.text)); flag {
	case Required, Requisite, Sufficient, Optional:
		entry.Flag = flag
	default:
		return JAASEntry{}, jaasError(fmt.Sprintf("Invalid login module control flag '%s' in JAAS config", flagToken.text))
	}

	token := tokenizer.next()
	for ; token.kind != tokenEnd && !token.is(';'); token = tokenizer.next() {
		if !token.hasText {
			// Kafka would store the option under a null key; there is no
			// use for that, so it is refused.
			return JAASEntry{}, jaasError("Option name not specified in JAAS config")
		}
		key := token.text
		if !tokenizer.next().is('=') {
			return JAASEntry{}, jaasError(fmt.Sprintf("Value not specified for key '%s' in JAAS config", key))
		}
		value := tokenizer.next()
		if value.kind == tokenEnd || !value.hasText {
			return JAASEntry{}, jaasError(fmt.Sprintf("Value not specified for key '%s' in JAAS config", key))
		}
		entry.Options[key] = value.text
	}
	if !token.is(';') {
		return JAASEntry{}, jaasError("JAAS config entry not terminated by semi-colon")
	}
	return entry, nil
}

type tokenKind int

const (
	tokenEnd      tokenKind = iota
	tokenWord               // a run of word characters
	tokenQuoted             // a quoted string
	tokenOrdinary           // one ordinary character: ';', '=', U+0081..U+009F
)

type jaasToken struct {
	kind tokenKind
	// char is the ordinary character, or the quote that opened a string.
	char rune
	// text is the word or the string's content; hasText is Java's
	// sval != null.
	text    string
	hasText bool
}

func (t jaasToken) is(char rune) bool { return t.kind == tokenOrdinary && t.char == char }

// The character classes JaasConfig gives its StreamTokenizer.
type charClass int

const (
	classOrdinary charClass = iota
	classWhitespace
	classWord
	classQuote
	classComment
)

func classOf(c rune) charClass {
	switch {
	case c < 0:
		return classWhitespace
	case c >= 256:
		return classWord
	case c <= ' ':
		return classWhitespace
	case c == '"' || c == '\'':
		return classQuote
	case c == '/':
		return classComment
	case c == ';' || c == '=':
		return classOrdinary
	case c <= 128 || c >= 160:
		return classWord
	default:
		return classOrdinary
	}
}

// needChar is StreamTokenizer's NEED_CHAR: no character is waiting.
const needChar rune = -2

// jaasTokenizer is java.io.StreamTokenizer reduced to the syntax JaasConfig
// sets up; its branches follow the Java code's, quirks included, so that a
// value parses here as it does in Kafka.
type jaasTokenizer struct {
	input    []rune
	position int
	peek     rune
}

func newJAASTokenizer(text string) *jaasTokenizer {
	// Invalid UTF-8 becomes U+FFFD, a word character, as Java's decoding of
	// the property would make it.
	return &jaasTokenizer{input: []rune(text), peek: needChar}
}

// read returns the next character, or -1 at the end.
func (t *jaasTokenizer) read() rune {
	if t.position >= len(t.input) {
		return -1
	}
	c := t.input[t.position]
	t.position++
	return c
}

func (t *jaasTokenizer) next() jaasToken {
	for {
		c := t.peek
		if c < 0 {
			c = t.read()
			if c < 0 {
				return jaasToken{kind: tokenEnd}
			}
		}
		t.peek = needChar

		class := classOf(c)
		for class == classWhitespace {
			c = t.read()
			if c < 0 {
				return jaasToken{kind: tokenEnd}
			}
			class = classOf(c)
		}

		switch {
		case class == classWord:
			var word strings.Builder
			for classOf(c) == classWord {
				word.WriteRune(c)
				c = t.read()
			}
			t.peek = c
			return jaasToken{kind: tokenWord, text: word.String(), hasText: true}

		case class == classQuote:
			return t.quoted(c)

		case c == '/':
			c = t.read()
			switch c {
			case '*':
				if !t.skipBlockComment() {
					return jaasToken{kind: tokenEnd}
				}
			case '/':
				t.skipLine()
			default:
				// '/' is also a comment character: the rest of the line
				// after the character just read is a comment.
				t.skipLine()
			}
			continue
		}
		return jaasToken{kind: tokenOrdinary, char: c}
	}
}

// skipLine skips to the next '\n' or '\r', which is left to read.
func (t *jaasTokenizer) skipLine() {
	c := t.read()
	for c != '\n' && c != '\r' && c >= 0 {
		c = t.read()
	}
	t.peek = c
}

// skipBlockComment skips past "*/" the way StreamTokenizer does, where the
// character after a line end is never taken as the '/' that closes. It
// returns false if the input ends first.
func (t *jaasTokenizer) skipBlockComment() bool {
	var previous rune
	for {
		c := t.read()
		if c == '/' && previous == '*' {
			return true
		}
		if c == '\r' {
			c = t.read()
			if c == '\n' {
				c = t.read()
			}
		} else if c == '\n' {
			c = t.read()
		}
		if c < 0 {
			return false
		}
		previous = c
	}
}

// quoted reads a string opened by quote, with Java's escapes; a line end or
// the end of the input closes it as well as the quote does.
func (t *jaasTokenizer) quoted(quote rune) jaasToken {
	var text strings.Builder
	d := t.read()
	for d >= 0 && d != quote && d != '\n' && d != '\r' {
		var c rune
		if d == '\\' {
			c = t.read()
			first := c
			if c >= '0' && c <= '7' {
				c -= '0'
				second := t.read()
				if second >= '0' && second <= '7' {
					c = c<<3 + (second - '0')
					second = t.read()
					if second >= '0' && second <= '7' && first <= '3' {
						c = c<<3 + (second - '0')
						d = t.read()
					} else {
						d = second
					}
				} else {
					d = second
				}
			} else {
				switch c {
				case 'a':
					c = 0x7
				case 'b':
					c = '\b'
				case 'f':
					c = 0xC
				case 'n':
					c = '\n'
				case 'r':
					c = '\r'
				case 't':
					c = '\t'
				case 'v':
					c = 0xB
				case -1:
					// Java stores the end of input, cast to char, as U+FFFF.
					c = 0xFFFF
				}
				d = t.read()
			}
		} else {
			c = d
			d = t.read()
		}
		text.WriteRune(c)
	}
	if d == quote {
		t.peek = needChar
	} else {
		t.peek = d
	}
	return jaasToken{kind: tokenQuoted, char: quote, text: text.String(), hasText: true}
}
