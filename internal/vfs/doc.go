// Package vfs is the filesystem seen by Samsa's storage: a small interface with a
// real implementation on package os (OS), an in-memory one that models what
// survives a power loss (NewMem), and a wrapper that injects write faults
// (NewFaulty). Crash tests run the storage code on NewFaulty(NewMem()), stop it at
// any write, call (*MemFS).Crash and check what recovers.
//
// The package owns no goroutines.
//
// # What MemFS models
//
// A file has two contents: what was written and what was last synced. Write,
// Truncate and O_TRUNC change the former; File.Sync copies it to the latter.
// A directory has two name tables: the current one, changed by creating,
// removing and renaming entries, and the durable one, which SyncDir(dir)
// replaces with the current one. Crash() reverts every directory to its durable
// table (recursively from the root, so a directory whose own entry was never
// synced vanishes with everything in it) and every file to its synced content.
// So a new file needs File.Sync and SyncDir of its directory to survive, a
// rename or remove needs SyncDir of the directories involved, and writing a
// temporary file, syncing it, renaming it over the target and syncing the
// directory is atomic. SyncFS makes everything durable at once. Handles
// opened before a crash fail afterwards with ErrCrashed. Not modelled: partial
// syncs (a sync is all or nothing), reordering of syncs across files, metadata
// such as permissions and modification times (kept in memory, not reverted).
package vfs
