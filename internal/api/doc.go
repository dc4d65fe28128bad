// Package api turns Kafka requests into calls on the broker's subsystems.
//
// Each Kafka API has one file named after its key (00_produce.go,
// 01_fetch.go, ...) that opens with the versions it serves and any
// version-specific behaviour. handlers.go holds the single table of
// {key, min version, max version, handler}; ApiVersions is built from that
// table, so what we advertise is exactly what we serve.
//
// Handlers put Kafka error codes in responses. A handler returns a Go error
// only when the request cannot be answered at all (it could not be decoded),
// and the server then closes the connection.
//
// The package owns no goroutines. Fetch sessions (KIP-227) are kept in a
// bounded cache guarded by its own mutex.
package api
