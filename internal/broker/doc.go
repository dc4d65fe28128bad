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
// the partitions and the group coordinator reflect the whole log. The log
// manager opens before the broker registers: whether the data directory
// was shut down cleanly goes into the registration (metadata's unclean
// restart rule). Close runs the other way: first the controlled shutdown
// (if the broker leads a partition another live ISR member could take, the
// controller moves its leaderships, bounded by min(broker.session.timeout.ms,
// 5 s); Abort skips it), then the listener stops taking requests and
// answers the ones in flight, the partitions snapshot their producer state
// and close their logs, the log manager stops its background goroutine, the
// quorum stops.
//
// Everything the broker does because the metadata changed follows from
// the difference between two metadata images (metadata.ComputeDelta), never
// from the request that changed it, so every broker does the same, in log
// order: one subscription to the quorum hands each new image to the replica
// manager (partitions.go), which closes and deletes the replicas that stop,
// applies config changes, and opens the replicas that start and makes each
// leader or follower; then the group coordinator drops the committed offsets
// of deleted topics and loads or unloads the __consumer_offsets partitions
// this broker gained or lost the leadership of (groups.go). At start-up the
// first delta is the one from the empty image to the current one, so a
// restart ends in the state that following the log did. Request handlers
// that change metadata wait (api.Partitions.Sync) until the delta of their
// change has been followed, so a client that created a topic can produce to
// it at once.
//
// The one exception is a replica whose log fails to write or sync: the
// broker takes it out of service at once, without waiting for the
// metadata, and reports it to the controller, which moves its leaderships
// (logfailure.go: Kafka's log directory failure handling, per log).
package broker
