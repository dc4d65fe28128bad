package api

// The shapes of Kafka's requests that the authorization rules narrow:
// lists of topics with partitions, and flat lists of named resources. The
// rules name the fields (every kmsg request of a shape uses the same
// names: Topics, Topic, TopicID, Partitions, Partition, ErrorCode), and
// these helpers take denied entries out of a request and put them back
// into its response with their error, so that one rule serves every API
// of the shape and every version of it. Reflection costs a little and is
// paid only with the authorizer on.

import (
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// denied is a resource taken out of a request: its name (or topic ID) and,
// for topics, the partitions asked for.
type denied struct {
	name       string
	id         [16]byte
	partitions []int32
	code       int16
}

// field returns the field name of the struct v points to or is, or an
// invalid Value.
func field(v reflect.Value, name string) reflect.Value {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.FieldByName(name)
}

// stringOf reads a string or *string field.
func stringOf(v reflect.Value) string {
	switch {
	case !v.IsValid():
		return ""
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return v.Elem().String()
	}
	return v.String()
}

// setString writes a string or *string field.
func setString(v reflect.Value, s string) {
	if !v.IsValid() {
		return
	}
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		p.Elem().SetString(s)
		v.Set(p)
		return
	}
	v.SetString(s)
}

// splitList takes out of the slice field list of req the elements whose
// key (field keyField, a string, *string, or with idField a topic ID
// resolved by name) check refuses, returning them with the code check
// gave. partitions, if set, is the field listing the element's
// partitions (whose Partition fields are kept).
func splitList(req kmsg.Request, list, keyField, idField, partitions string, name func([16]byte) string, check func(string) int16) []denied {
	s := field(reflect.ValueOf(req), list)
	if !s.IsValid() || s.Kind() != reflect.Slice {
		return nil
	}
	var out []denied
	kept := reflect.MakeSlice(s.Type(), 0, s.Len())
	for i := range s.Len() {
		e := s.Index(i)
		d := denied{name: stringOf(field(e, keyField))}
		if e.Kind() == reflect.String {
			d.name = e.String() // a list of names
		}
		if idField != "" {
			if id := field(e, idField); id.IsValid() {
				reflect.Copy(reflect.ValueOf(d.id[:]), id)
				if d.id != ([16]byte{}) && name != nil {
					d.name = name(d.id)
				}
			}
		}
		if d.code = check(d.name); d.code == 0 {
			kept = reflect.Append(kept, e)
			continue
		}
		if ps := field(e, partitions); partitions != "" && ps.IsValid() && ps.Kind() == reflect.Slice {
			for j := range ps.Len() {
				p := ps.Index(j)
				if p.Kind() == reflect.Int32 {
					d.partitions = append(d.partitions, int32(p.Int()))
				} else {
					d.partitions = append(d.partitions, int32(field(p, "Partition").Int()))
				}
			}
		}
		out = append(out, d)
	}
	s.Set(kept)
	return out
}

// addErrors appends to the slice field list of resp one element per
// denied resource: its key (and topic ID) set and, with partitions, one
// partition entry per partition carrying the code, else the code on the
// element itself.
func addErrors(resp kmsg.Response, list, keyField, idField, partitions string, ds []denied) {
	if resp == nil || len(ds) == 0 {
		return
	}
	s := field(reflect.ValueOf(resp), list)
	if !s.IsValid() || s.Kind() != reflect.Slice {
		return
	}
	for _, d := range ds {
		e := newDefault(s.Type().Elem())
		setString(field(e, keyField), d.name)
		if idField != "" {
			if id := field(e, idField); id.IsValid() {
				reflect.Copy(id, reflect.ValueOf(d.id[:]))
			}
		}
		if ps := field(e, partitions); partitions == "" || !ps.IsValid() {
			if ec := field(e, "ErrorCode"); ec.IsValid() {
				ec.SetInt(int64(d.code))
			}
		} else {
			for _, p := range d.partitions {
				pe := newDefault(ps.Type().Elem())
				field(pe, "Partition").SetInt(int64(p))
				field(pe, "ErrorCode").SetInt(int64(d.code))
				ps.Set(reflect.Append(ps, pe))
			}
		}
		s.Set(reflect.Append(s, e))
	}
}

// newDefault makes a zero value of t with kmsg's defaults (Default()),
// as kmsg's New constructors do.
func newDefault(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	if d, ok := p.Interface().(interface{ Default() }); ok {
		d.Default()
	}
	return p.Elem()
}

// denyAll answers req whole with the cluster's authorization error: its
// top-level error code where it has one, and every listed resource's.
func denyAll(req kmsg.Request) kmsg.Response {
	return denyWith(req, clusterDenied)
}

// denyWith answers req whole with code: the top-level error code, and an
// error entry for each resource of the request's lists of the shapes
// above.
func denyWith(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	if ec := field(reflect.ValueOf(resp), "ErrorCode"); ec.IsValid() && ec.CanSet() {
		ec.SetInt(int64(code))
	}
	always := func(string) int16 { return code }
	for _, shape := range listShapes {
		if field(reflect.ValueOf(req), shape.list).IsValid() && field(reflect.ValueOf(resp), shape.respList).IsValid() {
			// A copy: the request is not served, but keep it whole anyway.
			ds := splitList(req, shape.list, shape.key, shape.id, shape.partitions, nil, always)
			addErrors(resp, shape.respList, shape.respKey, shape.id, shape.partitions, ds)
		}
	}
	return resp
}

// listShapes are the lists denyWith fills: request list and key, response
// list and key.
var listShapes = []struct{ list, key, id, partitions, respList, respKey string }{
	{"Topics", "Topic", "TopicID", "Partitions", "Topics", "Topic"},
	{"Groups", "Group", "", "", "Groups", "Group"},
	{"Resources", "ResourceName", "", "", "Resources", "ResourceName"},
}

func valueOf(v any) reflect.Value { return reflect.ValueOf(v) }

func newSliceLike(s reflect.Value) reflect.Value { return reflect.MakeSlice(s.Type(), 0, s.Len()) }

func appendValue(s, e reflect.Value) reflect.Value { return reflect.Append(s, e) }
