// Package netfault is a TCP fault proxy for putting faults between Samsa
// nodes: the clustertest harness's links between in-process nodes and
// samsa chaos's links between real processes.
//
// A Link listens on 127.0.0.1:0 and forwards every connection to a target
// address. Each direction (ToTarget, FromTarget) has its own Fault: Pass,
// Drop (reset the connections and every new one), Blackhole (hold the
// connections and forward nothing, so that peers time out: a partition), a
// Delay per chunk, and a seeded Loss that resets whole connections (TCP
// never loses bytes inside a stream). Changing a fault acts at once on the
// open connections. The traffic is real TCP through the kernel on both
// sides; nothing in the code behind it is skipped or told about the fault.
//
// Goroutines: a Link runs one accept loop and, per connection, one that
// dials the target plus two per direction (a reader filling a bounded
// queue and a writer emptying it as the fault allows). Link.Close stops
// and waits for all of them; the tests check with goleak that nothing is
// left.
package netfault
