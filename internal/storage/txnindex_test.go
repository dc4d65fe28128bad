package storage

import (
	"slices"
	"testing"
)

func TestTxnIndexRoundTrip(t *testing.T) {
	want := []AbortedTxn{{1, 0, 5, 0}, {2, 3, 9, 6}, {1, 10, 12, 13}}
	var b []byte
	for _, a := range want {
		b = appendAbortedTxn(b, a)
	}
	if len(b) != 3*34 {
		t.Fatalf("%d bytes, want 102", len(b))
	}
	// A torn last entry is left off.
	got, valid, err := decodeTxnIndex(append(b, 0, 0, 0, 0, 1))
	if err != nil || valid != len(b) || !slices.Equal(got, want) {
		t.Fatalf("decode = %v, %d, %v", got, valid, err)
	}
	bad := slices.Clone(b)
	bad[34+1] = 1 // version 1
	if _, _, err := decodeTxnIndex(bad); err == nil {
		t.Error("version 1 accepted")
	}
	if _, _, err := decodeTxnIndex(appendAbortedTxn(nil, AbortedTxn{1, 9, 3, 0})); err == nil {
		t.Error("first offset past last accepted")
	}
}

func TestCollectAbortedTxns(t *testing.T) {
	txns := []AbortedTxn{{1, 0, 5, 0}, {2, 3, 9, 6}, {3, 10, 12, 13}}
	for _, tc := range []struct {
		from, upTo   int64
		want         []int64 // producer IDs
		wantComplete bool
	}{
		{0, 3, []int64{1}, true}, // 2 begins at 3: outside; its LSO 6 ends the search
		{0, 4, []int64{1, 2}, true},
		{6, 10, []int64{2}, true}, // 1 ended at 5; 3 begins at 10
		{6, 11, []int64{2, 3}, true},
		{4, 20, []int64{1, 2, 3}, false}, // later segments may hold more
		{13, 14, nil, false},
		{10, 13, []int64{3}, true},
	} {
		got, complete := collectAbortedTxns(nil, txns, tc.from, tc.upTo)
		var ids []int64
		for _, a := range got {
			ids = append(ids, a.ProducerID)
		}
		if !slices.Equal(ids, tc.want) || complete != tc.wantComplete {
			t.Errorf("[%d, %d): %v complete=%t, want %v %t", tc.from, tc.upTo, ids, complete, tc.want, tc.wantComplete)
		}
	}
}

// FuzzTxnIndex: any .txnindex bytes decode or fail without panicking, and
// what decodes re-encodes to the valid prefix.
func FuzzTxnIndex(f *testing.F) {
	f.Add(appendAbortedTxn(appendAbortedTxn(nil, AbortedTxn{1, 0, 5, 0}), AbortedTxn{2, 3, 9, 6}))
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		txns, valid, err := decodeTxnIndex(b)
		if err != nil {
			return
		}
		var again []byte
		for _, a := range txns {
			again = appendAbortedTxn(again, a)
		}
		if string(again) != string(b[:valid]) || len(b)-valid >= abortedTxnSize {
			t.Fatalf("re-encoded %x, valid prefix %x of %d bytes", again, b[:valid], len(b))
		}
	})
}
