package txn

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// ErrBadMarker means a control batch does not hold a transaction marker.
var ErrBadMarker = errors.New("txn: bad transaction marker")

// Control record types (Kafka's ControlRecordType), the int16 after the
// version in a control record's key.
const (
	controlAbort  int16 = 0
	controlCommit int16 = 1
)

// Marker is a transaction marker: the one record of a control batch that
// ends a producer's transaction.
type Marker struct {
	Commit           bool // else an abort
	CoordinatorEpoch int32
}

// DecodeMarker reads the marker of a control batch (its whole bytes, header
// included): the key is Kafka's ControlRecordType (version int16 0, type
// int16: 0 ABORT, 1 COMMIT), the value its EndTransactionMarker (version
// int16, coordinatorEpoch int32; later versions only add fields after).
func DecodeMarker(raw []byte) (Marker, error) {
	recs, err := batch.Records(raw)
	if err != nil {
		return Marker{}, fmt.Errorf("%w: %w", ErrBadMarker, err)
	}
	if len(recs) != 1 {
		return Marker{}, fmt.Errorf("%w: %d records", ErrBadMarker, len(recs))
	}
	k, v := recs[0].Key, recs[0].Value
	if len(k) < 4 || len(v) < 6 {
		return Marker{}, fmt.Errorf("%w: key of %d bytes, value of %d", ErrBadMarker, len(k), len(v))
	}
	be := binary.BigEndian
	if ver := int16(be.Uint16(k)); ver != 0 {
		return Marker{}, fmt.Errorf("%w: control key version %d", ErrBadMarker, ver)
	}
	typ := int16(be.Uint16(k[2:]))
	if typ != controlAbort && typ != controlCommit {
		return Marker{}, fmt.Errorf("%w: control type %d", ErrBadMarker, typ)
	}
	if ver := int16(be.Uint16(v)); ver < 0 {
		return Marker{}, fmt.Errorf("%w: marker version %d", ErrBadMarker, ver)
	}
	return Marker{Commit: typ == controlCommit, CoordinatorEpoch: int32(be.Uint32(v[2:]))}, nil
}

// MarkerRecord is the record of a transaction marker, for batch.Build with
// Control and Transactional set.
func MarkerRecord(m Marker) batch.Record {
	typ := controlAbort
	if m.Commit {
		typ = controlCommit
	}
	be := binary.BigEndian
	key := be.AppendUint16(be.AppendUint16(nil, 0), uint16(typ))
	value := be.AppendUint32(be.AppendUint16(nil, 0), uint32(m.CoordinatorEpoch))
	return batch.Record{Key: key, Value: value}
}
