package server

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FileRegion is a part of a response that goes from a file straight to the
// socket (sendfile), without passing through the process's memory.
type FileRegion struct {
	File      *os.File
	Pos, Size int64
	// Release is called once the bytes are sent or the response dropped.
	Release func()
}

// RegionResponse is a response some of whose bytes fields are file
// regions. The handler puts Placeholder(i) where region i's bytes belong
// (a records field); the server encodes the response, then replaces each
// placeholder and its length prefix with the region. A field made of
// several regions (records spanning segment files) holds their
// placeholders one after the other, in order: the length prefix then
// covers them all.
type RegionResponse interface {
	kmsg.Response
	Regions() []FileRegion
}

const placeholderSize = 16

// placeholderTag makes placeholders unique to this process: 12 random bytes
// that cannot plausibly occur in the metadata parts of a response.
var placeholderTag = func() [12]byte {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("server: no randomness for placeholders: %v", err))
	}
	return b
}()

// Placeholder is the stand-in for region i in a RegionResponse.
func Placeholder(i int) []byte {
	b := make([]byte, placeholderSize)
	copy(b, placeholderTag[:])
	binary.BigEndian.PutUint32(b[12:], uint32(i))
	return b
}

// part is a piece of an outgoing frame: bytes, or a file region.
type part struct {
	data   []byte
	region *FileRegion
}

// splitRegions cuts an encoded frame (size prefix included) at the
// placeholders of regions and returns the parts with the frame size
// corrected. flexible selects the length prefix of the bytes fields: a
// compact uvarint of length+1, else an int32.
func splitRegions(frame []byte, regions []FileRegion, flexible bool) ([]part, error) {
	parts := make([]part, 0, 2*len(regions)+1)
	from, size := 0, len(frame)-4
	for i := 0; i < len(regions); {
		at := bytes.Index(frame[from:], Placeholder(i))
		if at < 0 {
			return nil, fmt.Errorf("server: placeholder of region %d not in the response", i)
		}
		at += from
		// The regions whose placeholders follow directly share the field.
		n, total := 1, regions[i].Size
		for i+n < len(regions) && bytes.HasPrefix(frame[at+n*placeholderSize:], Placeholder(i+n)) {
			total += regions[i+n].Size
			n++
		}
		var prefix []byte
		oldPrefix := 4
		if flexible {
			oldPrefix = len(binary.AppendUvarint(nil, uint64(n*placeholderSize)+1))
			prefix = binary.AppendUvarint(nil, uint64(total)+1)
		} else {
			prefix = binary.BigEndian.AppendUint32(nil, uint32(total))
		}
		if at-oldPrefix < from {
			return nil, fmt.Errorf("server: placeholder of region %d has no length prefix", i)
		}
		parts = append(parts, part{data: frame[from : at-oldPrefix]}, part{data: prefix})
		for k := range n {
			parts = append(parts, part{region: &regions[i+k]})
		}
		size += len(prefix) - oldPrefix + int(total) - n*placeholderSize
		from = at + n*placeholderSize
		i += n
	}
	parts = append(parts, part{data: frame[from:]})
	binary.BigEndian.PutUint32(frame, uint32(size))
	return parts, nil
}

// sendFile writes the region to the connection with sendfile(2), falling
// back to a copy where the connection or file has no descriptor.
func sendFile(c net.Conn, r *FileRegion) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return copyRegion(c, r)
	}
	dst, err := sc.SyscallConn()
	if err != nil {
		return copyRegion(c, r)
	}
	src, err := r.File.SyscallConn()
	if err != nil {
		return copyRegion(c, r)
	}
	pos, left := r.Pos, r.Size
	var sendErr error
	ctlErr := src.Control(func(srcFD uintptr) {
		err := dst.Write(func(dstFD uintptr) bool {
			for left > 0 {
				n, err := syscall.Sendfile(int(dstFD), int(srcFD), &pos, int(min(left, 1<<30)))
				if n > 0 {
					left -= int64(n)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until the socket is writable
				case err == syscall.EINTR:
				case err != nil:
					sendErr = err
					return true
				case n == 0:
					sendErr = io.ErrUnexpectedEOF // the file is shorter than the region
					return true
				}
			}
			return true
		})
		if sendErr == nil {
			sendErr = err
		}
	})
	if sendErr == nil {
		sendErr = ctlErr
	}
	return sendErr
}

func copyRegion(w io.Writer, r *FileRegion) error {
	_, err := io.Copy(w, io.NewSectionReader(r.File, r.Pos, r.Size))
	return err
}
