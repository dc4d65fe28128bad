package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordFormatter writes one consumed record.
type recordFormatter func(w io.Writer, r *kgo.Record) error

// templateHelp documents the consume output template.
const templateHelp = `output: json (one object per line), or a template where
%t topic, %p partition, %o offset, %k key, %v or %s value,
%T timestamp (ms since the epoch), %d timestamp (RFC 3339),
%h headers (name=value,...), %K key length, %S value length, %% a percent sign;
\n, \t, \r and \\ are escapes`

// parseFormat returns the formatter for consume's --format: "json" or a
// template in the style of kcat's -f.
func parseFormat(format string) (recordFormatter, error) {
	if format == formatJSON {
		return writeRecordJSON, nil
	}
	type part struct {
		literal string
		verb    byte // 0 for a literal
	}
	var parts []part
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, part{literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '\\' && i+1 < len(format):
			i++
			switch format[i] {
			case 'n':
				lit.WriteByte('\n')
			case 't':
				lit.WriteByte('\t')
			case 'r':
				lit.WriteByte('\r')
			case '\\':
				lit.WriteByte('\\')
			default:
				lit.WriteByte('\\')
				lit.WriteByte(format[i])
			}
		case c == '%':
			if i+1 >= len(format) {
				return nil, fmt.Errorf("--format %q: ends with a lone %%", format)
			}
			i++
			switch v := format[i]; v {
			case '%':
				lit.WriteByte('%')
			case 't', 'p', 'o', 'k', 'v', 's', 'T', 'd', 'h', 'K', 'S':
				flush()
				parts = append(parts, part{verb: v})
			default:
				return nil, fmt.Errorf("--format %q: unknown directive %%%c", format, v)
			}
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return func(w io.Writer, r *kgo.Record) error {
		var b []byte
		for _, p := range parts {
			switch p.verb {
			case 0:
				b = append(b, p.literal...)
			case 't':
				b = append(b, r.Topic...)
			case 'p':
				b = strconv.AppendInt(b, int64(r.Partition), 10)
			case 'o':
				b = strconv.AppendInt(b, r.Offset, 10)
			case 'k':
				b = append(b, r.Key...)
			case 'v', 's':
				b = append(b, r.Value...)
			case 'T':
				b = strconv.AppendInt(b, r.Timestamp.UnixMilli(), 10)
			case 'd':
				b = r.Timestamp.UTC().AppendFormat(b, time.RFC3339Nano)
			case 'h':
				for i, h := range r.Headers {
					if i > 0 {
						b = append(b, ',')
					}
					b = append(b, h.Key...)
					b = append(b, '=')
					b = append(b, h.Value...)
				}
			case 'K':
				b = strconv.AppendInt(b, int64(len(r.Key)), 10)
			case 'S':
				b = strconv.AppendInt(b, int64(len(r.Value)), 10)
			}
		}
		_, err := w.Write(b)
		return err
	}, nil
}

// writeRecordJSON writes a record as one line of JSON; key and value are
// strings (null when absent), as `samsa produce --format json` reads them.
func writeRecordJSON(w io.Writer, r *kgo.Record) error {
	partition, offset, ts := r.Partition, r.Offset, r.Timestamp.UnixMilli()
	j := jsonRecord{Topic: r.Topic, Partition: &partition, Offset: &offset, Timestamp: &ts}
	if r.Key != nil {
		k := string(r.Key)
		j.Key = &k
	}
	j.Value = json.RawMessage("null")
	if r.Value != nil {
		v, err := json.Marshal(string(r.Value))
		if err != nil {
			return err
		}
		j.Value = v
	}
	if len(r.Headers) > 0 {
		j.Headers = map[string]string{}
		for _, h := range r.Headers {
			j.Headers[h.Key] = string(h.Value)
		}
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
