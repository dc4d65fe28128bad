// Package server moves bytes: it accepts Kafka client connections, reads
// size-prefixed request frames, hands each decoded request header and body to
// a Handler, and writes the responses back in request order.
//
// Goroutines: one accept loop per listener, and per connection one reader
// (which also runs the handler, so requests on one connection are served one
// at a time, in order, as Kafka does) and one writer (so a slow socket never
// blocks the handler of the next pipelined request). A handler may return a
// Deferred response (an acks=all produce, appended, waiting for its
// followers): the writer finishes it in order while the reader serves the
// next produce, and any other request waits for it first. Close stops accepting,
// lets in-flight requests finish and their responses reach the socket, then
// waits for every goroutine.
//
// Accept errors (a process out of file descriptors) back off from 5 ms to
// 1 s and retry, as net/http does, and are logged at most every 10 s. Kafka's
// connection quotas apply: at max.connections the accept loop waits for a
// connection to close; a connection past max.connections.per.ip is closed at
// once; one silent for connections.max.idle.ms is closed by its read deadline.
//
// A frame on the wire:
//
//	+---------+--------+---------+---------------+-----------+------------------+------+
//	| size    | key    | version | correlationID | client ID | tagged fields    | body |
//	| int32   | int16  | int16   | int32         | int16 len | (flexible only)  | ...  |
//	+---------+--------+---------+---------------+-----------+------------------+------+
//
// The size counts every byte after itself and is checked against the
// configured maximum (socket.request.max.bytes) before anything is read. A
// frame that cannot be parsed closes the connection.
package server
