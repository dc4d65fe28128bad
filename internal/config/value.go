package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kafka's ConfigType, as DescribeConfigs v3+ reports it.
const (
	TypeBoolean  int8 = 1
	TypeString   int8 = 2
	TypeInt      int8 = 3
	TypeShort    int8 = 4
	TypeLong     int8 = 5
	TypeDouble   int8 = 6
	TypeList     int8 = 7
	TypeClass    int8 = 8
	TypePassword int8 = 9
)

// typeNoun names a type in "not a ..." errors.
func typeNoun(t int8) string {
	switch t {
	case TypeBoolean:
		return "a boolean"
	case TypeInt:
		return "an int"
	case TypeShort:
		return "a short"
	case TypeLong:
		return "a long"
	case TypeDouble:
		return "a double"
	case TypeList:
		return "a list"
	case TypeClass:
		return "a class"
	}
	return "a string"
}

// checkType parses value as the type t and returns the reason it is not one, or "".
func checkType(t int8, value string) string {
	var err error
	switch t {
	case TypeBoolean:
		_, err = parseBool(value)
	case TypeInt:
		_, err = strconv.ParseInt(strings.TrimSpace(value), 10, 32)
	case TypeShort:
		_, err = strconv.ParseInt(strings.TrimSpace(value), 10, 16)
	case TypeLong:
		_, err = strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	case TypeDouble:
		var f float64
		f, err = strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			err = strconv.ErrSyntax
		}
	}
	if err != nil {
		return "not " + typeNoun(t)
	}
	return ""
}

// parseBool accepts what Java's ConfigDef accepts: true or false, in any case.
func parseBool(value string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, strconv.ErrSyntax
}

// splitList splits a comma-separated list, trimming each element and dropping
// empty ones, as Java's ConfigDef does.
func splitList(value string) []string {
	var out []string
	for _, part := range strings.Split(value, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// A validator checks a value that already parses as its config's type and
// returns the reason it is out of bounds, or "".
type validator func(name, value string) string

// atLeast bounds an integer config from below.
func atLeast(min int64) validator {
	return func(_, value string) string {
		n, _ := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if n < min {
			return fmt.Sprintf("must be at least %d", min)
		}
		return ""
	}
}

// between bounds a double config on both sides, inclusive.
func between(lo, hi float64) validator {
	return func(_, value string) string {
		f, _ := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if f < lo || f > hi {
			return fmt.Sprintf("must be between %g and %g", lo, hi)
		}
		return ""
	}
}

// oneOf restricts a string config to a set of values (case-sensitive, as Kafka).
func oneOf(values ...string) validator {
	return func(name, value string) string {
		for _, v := range values {
			if strings.TrimSpace(value) == v {
				return ""
			}
		}
		return name + " must be one of " + strings.Join(values, ", ")
	}
}

// listOf restricts a list config to a non-empty list drawn from a set of values.
func listOf(values ...string) validator {
	return func(name, value string) string {
		items := splitList(value)
		bad := len(items) == 0
		for _, item := range items {
			found := false
			for _, v := range values {
				found = found || item == v
			}
			bad = bad || !found
		}
		if bad {
			return name + " must be a list of " + strings.Join(values, ", ")
		}
		return ""
	}
}

// validate checks value against def: its type first, then its validator.
func (d *definition) validate(value string) error {
	reason := checkType(d.typ, value)
	if reason == "" && d.valid != nil {
		reason = d.valid(d.name, value)
	}
	if reason != "" {
		return fmt.Errorf("invalid value '%s' for config %s: %s", value, d.name, reason)
	}
	return nil
}
