package storage

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Manager owns the logs of one data directory and their background work. It
// marks a clean shutdown of the whole directory (see cleanShutdownFile).
type Manager struct {
	dir     string
	fs      vfs.FS
	now     func() time.Time
	logger  *slog.Logger
	handles *handleCache
	threads int // num.recovery.threads.per.data.dir: logs closed at once by Close
	// onFailure is Options.OnFailure.
	onFailure func(topic string, partition int32, err error)

	cleanStart bool            // the clean-shutdown mark was there at start
	recoverAll map[string]bool // directory names the mark says to recover anyway
	// deferSync: the filesystem can sync everything at once, so logs closed
	// during shutdown write unsynced and Close syncs once.
	deferSync bool
	shutdown  atomic.Bool // BeginShutdown or Close was called

	// mu guards logs and closed. Lock order: Manager.mu, then Log.mu, then
	// stateMu.
	mu     sync.Mutex
	logs   map[string]*Log
	closed bool

	stateMu sync.Mutex
	state   map[string]logState // by log directory; absent = not opened yet

	cleaner cleanerState

	quit chan struct{}
	wg   sync.WaitGroup
}

// PartitionDir is a partition directory found on disk.
type PartitionDir struct {
	Topic     string
	Partition int32
	Dir       string
}

// NewManager opens the data directory dataDir (creating it) and, if
// retentionCheckInterval > 0, starts the goroutine that every interval runs
// retention, time-based rolls, flush.ms flushes and recovery-point checkpoints
// on every open log, and starts opts.Cleaner.Threads log cleaner goroutines.
// Directories left by an interrupted DeleteLog are removed, and the
// clean-shutdown mark is consumed.
func NewManager(dataDir string, opts Options, retentionCheckInterval time.Duration) (*Manager, error) {
	opts = opts.withDefaults()
	_, deferSync := opts.FS.(vfs.FSSyncer)
	m := &Manager{
		dir:       filepath.Clean(dataDir),
		fs:        opts.FS,
		now:       opts.Now,
		logger:    opts.Logger,
		handles:   newHandleCache(opts.FS, opts.MaxOpenSegments),
		threads:   opts.RecoveryThreads,
		onFailure: opts.OnFailure,
		deferSync: deferSync,
		logs:      map[string]*Log{},
		state:     map[string]logState{},
		quit:      make(chan struct{}),
	}
	if err := m.fs.MkdirAll(m.dir, 0o755); err != nil {
		return nil, err
	}
	if err := m.fs.SyncDir(filepath.Dir(m.dir)); err != nil {
		return nil, err
	}
	if err := m.takeCleanMark(); err != nil {
		return nil, err
	}
	names, err := m.fs.ReadDir(m.dir)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if strings.HasSuffix(name, "-delete") {
			if err := m.fs.RemoveAll(filepath.Join(m.dir, name)); err != nil {
				return nil, err
			}
		}
	}
	m.startCleaner(opts.Cleaner)
	if retentionCheckInterval > 0 {
		m.wg.Add(1)
		go m.run(retentionCheckInterval)
	}
	return m, nil
}

func (m *Manager) run(interval time.Duration) {
	defer m.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
			m.maintain(m.now())
		}
	}
}

// maintain runs one round of background work on every open log.
func (m *Manager) maintain(now time.Time) {
	m.mu.Lock()
	logs := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		logs = append(logs, l)
	}
	m.mu.Unlock()
	for _, l := range logs {
		if _, err := l.EnforceRetention(now); err != nil && !errors.Is(err, ErrClosed) {
			m.logger.Error("retention failed", "dir", l.dir, "err", err)
		}
		if err := l.maintain(now); err != nil && !errors.Is(err, ErrClosed) {
			m.logger.Error("log maintenance failed", "dir", l.dir, "err", err)
		}
	}
}

// validTopic is Kafka's rule: 1 to 249 of [a-zA-Z0-9._-], not "." or "..". It
// also keeps names from escaping the data directory.
func validTopic(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (m *Manager) logDir(topic string, partition int32) string {
	return filepath.Join(m.dir, topic+"-"+strconv.FormatInt(int64(partition), 10))
}

// OpenLog returns the log of topic-partition, creating or recovering it. A
// directory whose partition.metadata names another topic ID (a deleted topic's
// leftover) is removed first. A zero topicID skips that check and the file.
// Opening a log already open returns it with cfg applied; a log closed with
// Log.Close is opened again.
func (m *Manager) OpenLog(topic string, partition int32, topicID [16]byte, cfg Config) (*Log, error) {
	if !validTopic(topic) || partition < 0 {
		return nil, fmt.Errorf("storage: invalid partition %q-%d", topic, partition)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.shutdown.Load() {
		return nil, ErrClosed
	}
	dir := m.logDir(topic, partition)
	if l, ok := m.logs[dir]; ok {
		if !l.closedFlag.Load() {
			l.SetConfig(cfg)
			return l, nil
		}
		delete(m.logs, dir) // closed by its user: open it again
	}
	trust := m.claim(dir)
	created, err := m.preparePartitionDir(dir, topicID)
	if err != nil {
		return nil, err
	}
	l := &Log{
		topic: topic, partition: partition, dir: dir,
		fs: m.fs, now: m.now, logger: m.logger.With("topic", topic, "partition", partition),
		handles: m.handles, m: m, trustClean: trust, cfg: cfg.normalized(),
	}
	if created {
		l.unsynced = unsyncedDir | unsyncedParent
		if topicID != [16]byte{} {
			l.unsynced |= unsyncedMeta
		}
	}
	l.flushCond = sync.NewCond(&l.flushMu)
	if err := l.load(); err != nil {
		m.handles.invalidate(dir)
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	m.logs[dir] = l
	return l, nil
}

// preparePartitionDir removes a stale directory of another topic ID, creates
// the directory and writes partition.metadata. A directory it creates (it says
// so) is not synced: the log syncs it before anything in it must be durable
// (Log.syncDirsLocked), so creating thousands of partitions costs no fsync.
func (m *Manager) preparePartitionDir(dir string, topicID [16]byte) (created bool, _ error) {
	metaPath := filepath.Join(dir, partitionMetaFile)
	write := topicID != [16]byte{}
	if b, err := vfs.ReadFile(m.fs, metaPath); err == nil && write {
		id, perr := parsePartitionMetadata(b)
		switch {
		case perr != nil:
			m.logger.Warn("rewriting corrupt partition.metadata", "dir", dir, "err", perr)
		case id != topicID:
			m.logger.Warn("removing directory of a deleted topic", "dir", dir, "topic_id", base64.RawURLEncoding.EncodeToString(id[:])) // as Kafka prints IDs
			if err := m.removeDir(dir); err != nil {
				return false, err
			}
		default:
			write = false
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	_, err := m.fs.Stat(dir)
	created = errors.Is(err, os.ErrNotExist)
	if err != nil && !created {
		return false, err
	}
	if created {
		if err := m.fs.MkdirAll(dir, 0o755); err != nil {
			return false, err
		}
	}
	switch {
	case !write:
		return created, nil
	case created:
		// Nothing to replace: no temporary file and rename. A crash that
		// loses or tears it is answered by rewriting it (above).
		return true, writeWhole(m.fs, metaPath, encodePartitionMetadata(topicID), false)
	default:
		return false, vfs.WriteFileAtomic(m.fs, dir, metaPath, encodePartitionMetadata(topicID))
	}
}

// DeleteLog closes the log of topic-partition if open and removes its data:
// the directory is renamed to <topic>-<partition>.<hex>-delete atomically, then
// removed (NewManager finishes the removal after a crash).
func (m *Manager) DeleteLog(topic string, partition int32) error {
	if !validTopic(topic) || partition < 0 {
		return fmt.Errorf("storage: invalid partition %q-%d", topic, partition)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dir := m.logDir(topic, partition)
	if l, ok := m.logs[dir]; ok {
		delete(m.logs, dir)
		l.close(false)
	}
	if _, err := m.fs.Stat(dir); errors.Is(err, os.ErrNotExist) {
		m.forget(dir)
		return nil
	}
	if err := m.removeDir(dir); err != nil {
		return err
	}
	m.forget(dir)
	return nil
}

// removeDir removes a partition directory so that a crash cannot leave part of
// it under its name: rename (atomic, made durable), then remove.
func (m *Manager) removeDir(dir string) error {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	gone := dir + "." + hex.EncodeToString(id[:]) + "-delete"
	if err := m.fs.Rename(dir, gone); err != nil {
		return err
	}
	if err := m.fs.SyncDir(m.dir); err != nil {
		return err
	}
	return m.fs.RemoveAll(gone)
}

// parsePartitionDir splits "<topic>-<partition>" at the last '-'.
func parsePartitionDir(name string) (string, int32, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	digits := name[i+1:]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	p, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || !validTopic(name[:i]) {
		return "", 0, false
	}
	return name[:i], int32(p), true
}

// LogDirs returns the partition directories present on disk, open or not.
func (m *Manager) LogDirs() ([]PartitionDir, error) {
	names, err := m.fs.ReadDir(m.dir)
	if err != nil {
		return nil, err
	}
	var dirs []PartitionDir
	for _, name := range names {
		topic, partition, ok := parsePartitionDir(name)
		if !ok {
			continue
		}
		path := filepath.Join(m.dir, name)
		if fi, err := m.fs.Stat(path); err != nil || !fi.IsDir() {
			continue
		}
		dirs = append(dirs, PartitionDir{Topic: topic, Partition: partition, Dir: path})
	}
	return dirs, nil
}

// Close stops the background goroutines, waits for them, closes every log
// (RecoveryThreads at a time), makes what they wrote durable and marks the
// shutdown clean, unless something failed.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.shutdown.Store(true)
	close(m.quit)
	m.mu.Unlock()
	m.wg.Wait()

	m.mu.Lock()
	defer m.mu.Unlock()
	logs := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		logs = append(logs, l)
	}
	clear(m.logs)
	errs := parallel(logs, m.threads, (*Log).Close)
	if m.deferSync {
		if err := m.fs.(vfs.FSSyncer).SyncFS(m.dir); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	if err := m.markClean(); err != nil {
		errs = append(errs, fmt.Errorf("storage: marking a clean shutdown: %w", err))
	}
	return errors.Join(errs...)
}
