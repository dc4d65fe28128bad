// Package txncoord is the transaction coordinator, as Apache Kafka 4's
// TransactionCoordinator and TransactionStateManager: it owns the state of
// every transactional.id whose partition of __transaction_state this broker
// leads, serves InitProducerId (with a transactional.id), AddPartitionsToTxn
// (the client path and KIP-890's verify-only broker path), AddOffsetsToTxn,
// EndTxn, DescribeTransactions and ListTransactions, and drives each ended
// transaction to completion: the PrepareCommit or PrepareAbort state is
// written to the log, then the COMMIT or ABORT marker to every partition of
// the transaction (Markers, which the broker sends as WriteTxnMarkers
// requests over the Kafka protocol, as Kafka's
// TransactionMarkerChannelManager), retried until each has it, then
// CompleteCommit or CompleteAbort.
//
// State lives in __transaction_state as Kafka's TransactionLog records
// (kmsg.TxnMetadataKey and kmsg.TxnMetadataValue; a tombstone forgets an
// expired transactional.id), in the partition Utils.abs(hashCode) %
// partitions of the transactional.id. A partition's transactions are read
// back from its log when this broker becomes its leader (Sync), and those
// found in a prepare state have their markers sent again, so a restart or a
// failover between EndTxn and the markers completes the transaction (under
// transactions v2, whose markers carry the bumped epoch, the partition
// takes the same marker again while no transaction of the producer is
// open there, as Kafka's KAFKA-19999 fix: txn.ProducerState.CheckMarker). The
// partition's leader epoch is the coordinator epoch of its markers, which
// fences a coordinator that lost its leadership.
//
// Every state change is one record appended under the coordinator's lock,
// so the log's order is the order of the changes; the change takes effect
// in memory only once the record is committed (the whole ISR has it). While
// it waits, the transaction is pending and other requests for it answer
// CONCURRENT_TRANSACTIONS, as Kafka's pendingState. One departure from
// Kafka: an AddPartitionsToTxn (or a transactions-v2 produce's implicit
// add) or InitProducerId that finds the previous transaction's markers
// still being written waits up to Config.EndWait (100 ms) for them to
// complete before it answers CONCURRENT_TRANSACTIONS. Kafka answers at
// once and the client (or the leader, for v2) retries after 20 ms or more,
// which held a producer that commits one transaction after another to ~50
// a second; waiting, it goes at the speed of the markers.
package txncoord
