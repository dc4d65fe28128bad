// Package broker builds every subsystem of one Samsa node and owns their
// start and stop order.
//
// Start: configuration, the data directory (locked against a second
// process), the metadata quorum, the log manager, this broker's
// registration, the local partitions the metadata assigns to it, then the
// listener. The quorum's Open does not wait for an election; Start waits
// for the quorum to be ready (quorum.Controller.WaitReady: the whole
// committed metadata log applied, a cluster ID) before anything acts on the
// image, so `samsa serve` accepts connections only once the registration,
// the partitions and the group coordinator reflect the whole log. Close runs the other way: the listener stops taking requests and
// answers the ones in flight, the partitions snapshot their producer state
// and close their logs, the log manager stops its background goroutine, the
// quorum stops.
//
// The broker keeps the local partitions in step with the metadata: a
// subscription to the quorum reconciles them after every change (open new
// partitions, apply config changes, delete the data of deleted topics), and
// request handlers that change metadata reconcile synchronously before they
// answer, so a client that created a topic can produce to it at once.
package broker
