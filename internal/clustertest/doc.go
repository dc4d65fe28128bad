// Package clustertest runs Samsa nodes inside a test process and puts faults
// between them: the cluster harness of issue 10's tests.
//
// # Links
//
// The fault proxy between nodes is netfault.Link (Link here, with its
// Fault, Mode and Direction): a TCP proxy per ordered pair of nodes whose
// directions pass, drop, blackhole, delay or lose what crosses them.
//
// # Nodes and clusters
//
// StartNode starts one broker.Start node on 127.0.0.1 in a test's temporary
// directory; Start starts N of them (node i in node<i>/ with node.id i+1)
// and a Link for every ordered pair (i, j), the path node i takes to reach
// node j. A node can Stop (broker.Close), Kill and Restart (same directory,
// same address, so clients reconnect); clients come from Node.Client and
// Cluster.Client (every node a seed).
//
// Kill is a crash at the filesystem, not a flag in the broker: each start
// puts the partition logs on a filesystem (crashFS, the operating system's
// files) and the metadata log on a walfault.Disk that Kill makes refuse
// every write from that instant, and then runs broker.Abort (Close without
// the controlled shutdown) on the dead disk. What was written stays, as the kernel keeps it for a killed
// process; nothing Close would flush or mark reaches the directory, so the
// next start recovers as after kill -9. Node.Kill says what still differs.
//
// # Disk faults
//
// Node.SetDiskFault gives a running node's partition-log disk (crashFS) a
// fault under a directory of its data directory, until cleared or the
// node restarts (each start is a new, working disk): DiskSyncFails fails
// every fsync with EIO, DiskFull every write with ENOSPC.
// Node.DiskFaultFired says when the fault first failed an operation. The
// metadata log is on its own walfault.Disk, so a disk fault on the
// partition logs leaves the quorum alone (issue 11's disk faults: the
// broker must stop serving the affected log, TestDiskFault).
//
// # Inter-node traffic
//
// Start makes one cluster: every node is a combined broker,controller node
// and a voter. It reserves each node's Kafka and controller ports before the
// first start (the voters must be known before any node starts), puts them
// in listeners and controller.quorum.voters, and keeps them across
// restarts, so every node has one address per listener for its whole life,
// the same for everyone. What differs per node is only its way out,
// Cluster.Dialer(i) (NodeConfig.Dial, broker.Config.Dial, which the broker
// also gives its quorum as quorum.Config.Dial), which sends a connection
// for node j's Kafka address through Link(i, j) and one for its controller
// address through ControllerLink(i, j): the replica fetchers cross the
// first, raft's transport and the controller RPC (forwarded proposals,
// broker heartbeats) the second, so a fault on both cuts data, metadata
// and liveness alike, as a real network partition does. Clients the test
// makes dial directly unless given Dialer(i) (kgo.Dialer) to play node i.
// Options.Independent starts N single-node clusters instead, which know
// nothing of each other.
//
// Faults are then Cluster.Cut (one way: every packet from i to j, on both
// listeners), Partition (groups that cannot reach each other; nodes in no group bridge
// them), Isolate, Heal, and Link(i, j).Set for anything finer.
//
// Goroutines: the links' (see netfault); the test's end closes a cluster's
// links and stops its nodes, and the package's tests check with goleak that
// nothing is left.
package clustertest
