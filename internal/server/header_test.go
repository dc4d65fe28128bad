package server

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseHeaderRoundTrip(t *testing.T) {
	for _, req := range []kmsg.Request{
		func() kmsg.Request { r := kmsg.NewPtrMetadataRequest(); r.SetVersion(12); return r }(),
		func() kmsg.Request { r := kmsg.NewPtrMetadataRequest(); r.SetVersion(4); return r }(),
		func() kmsg.Request { r := kmsg.NewPtrApiVersionsRequest(); r.SetVersion(3); return r }(),
	} {
		f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("cid"))
		frame := f.AppendRequest(nil, req, 77)
		h, body, err := ParseHeader(frame[4:])
		if err != nil {
			t.Fatal(err)
		}
		if h.Key != req.Key() || h.Version != req.GetVersion() || h.CorrelationID != 77 || h.ClientID != "cid" || h.Flexible != req.IsFlexible() {
			t.Fatalf("header %+v", h)
		}
		got := req.ResponseKind().RequestKind()
		got.SetVersion(h.Version)
		if err := got.ReadFrom(body); err != nil {
			t.Fatalf("body of %T v%d: %v", req, h.Version, err)
		}
	}
}

func TestParseHeaderRejectsShortFrames(t *testing.T) {
	for _, frame := range [][]byte{nil, {0, 3}, {0, 3, 0, 12, 0, 0, 0, 1, 0, 9, 'a'}, {0, 3, 0, 12, 0, 0, 0, 1, 0x80, 0}} {
		if _, _, err := ParseHeader(frame); err == nil {
			t.Fatalf("frame %x parsed", frame)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	r := kmsg.NewPtrMetadataRequest()
	r.SetVersion(12)
	f.Add(kmsg.NewRequestFormatter().AppendRequest(nil, r, 1)[4:])
	f.Add([]byte{0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 3, 1, 200, 1})
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, body, err := ParseHeader(frame)
		if err != nil {
			return
		}
		if len(body) > len(frame) {
			t.Fatalf("body longer than frame")
		}
		// The body decoder of every API must survive whatever follows a valid header.
		if req := kmsg.RequestForKey(h.Key); req != nil && h.Version >= 0 && h.Version <= req.MaxVersion() {
			req.SetVersion(h.Version)
			_ = req.ReadFrom(body) // must not panic
		}
	})
}
