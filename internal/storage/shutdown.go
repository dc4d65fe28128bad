package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// A clean shutdown is marked once for the whole data directory, as Kafka does
// (.kafka_cleanshutdown): Manager.Close writes cleanShutdownFile after every
// log's files are durable, and NewManager removes it (durably) before any log
// can change. So opening a log writes nothing, and a log's files are trusted
// as consistent (its index files, the end of its active segment) only if the
// mark was there and the log was not opened since, or if it was closed cleanly
// since. Anything else recovers from the recovery point. The mark lists the
// directories it does not vouch for (a log whose close failed).
const cleanShutdownFile = ".clean-shutdown"

// logState is what a Manager knows of a log directory since it started.
type logState uint8

const (
	logUntouched   logState = iota // not opened: files as the last run left them
	logOpened                      // opened (or its open or close failed): maybe appended to
	logClosedClean                 // closed cleanly since: its files are durable and consistent
)

// encodeCleanMark renders the mark; recover lists directory names to recover
// anyway.
func encodeCleanMark(recover []string) []byte {
	b := []byte("version: 0\n")
	for _, name := range recover {
		b = append(b, "recover: "+name+"\n"...)
	}
	return b
}

func parseCleanMark(b []byte) (map[string]bool, error) {
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != "version: 0" {
		return nil, fmt.Errorf("%w: clean-shutdown mark %q", ErrCorrupt, lines[0])
	}
	recover := map[string]bool{}
	for _, line := range lines[1:] {
		name, ok := strings.CutPrefix(line, "recover: ")
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: clean-shutdown mark line %q", ErrCorrupt, line)
		}
		recover[name] = true
	}
	return recover, nil
}

// takeCleanMark reads and removes the mark. A corrupt mark vouches for
// nothing.
func (m *Manager) takeCleanMark() error {
	path := filepath.Join(m.dir, cleanShutdownFile)
	b, err := vfs.ReadFile(m.fs, path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := m.fs.Remove(path); err != nil {
		return err
	}
	if err := m.fs.SyncDir(m.dir); err != nil {
		return err
	}
	recover, err := parseCleanMark(b)
	if err != nil {
		m.logger.Warn("ignoring corrupt clean-shutdown mark: recovering every log", "file", path, "err", err)
		return nil
	}
	m.cleanStart, m.recoverAll = true, recover
	return nil
}

// CleanStart reports whether the directory was shut down cleanly last
// time: the mark was there and vouched for every log. After anything else
// (kill -9, power loss, a log whose close failed, a new directory) logs may
// lack records that were written but never synced.
func (m *Manager) CleanStart() bool { return m.cleanStart && len(m.recoverAll) == 0 }

// claim marks dir opened and says whether its files may be trusted.
func (m *Manager) claim(dir string) bool {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	st := m.state[dir]
	m.state[dir] = logOpened
	return st == logClosedClean || (st == logUntouched && m.vouchedLocked(dir))
}

// vouchedLocked says whether the mark found at start vouches for dir.
func (m *Manager) vouchedLocked(dir string) bool {
	return m.cleanStart && !m.recoverAll[filepath.Base(dir)]
}

// logClosed records how a log's Close ended.
func (m *Manager) logClosed(dir string, clean bool) {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if clean {
		m.state[dir] = logClosedClean
	} else {
		m.state[dir] = logOpened
	}
}

func (m *Manager) forget(dir string) {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	delete(m.state, dir)
}

// deferSyncs says whether logs closing now leave their syncs to Close.
func (m *Manager) deferSyncs() bool { return m.deferSync && m.shutdown.Load() }

// BeginShutdown tells the Manager that every log is about to be closed: from
// now on OpenLog refuses, and Log.Close and Log.WriteFile do not sync (if the
// filesystem can sync everything at once); Close syncs it all with one
// syncfs(2), instead of several fsyncs per log, before marking the shutdown
// clean.
func (m *Manager) BeginShutdown() { m.shutdown.Store(true) }

// markClean writes the clean-shutdown mark, listing the partition directories
// whose files cannot be trusted: opened since start and not closed cleanly,
// or not opened and not vouched for by the mark found at start.
func (m *Manager) markClean() error {
	names, err := m.fs.ReadDir(m.dir)
	if err != nil {
		return err
	}
	m.stateMu.Lock()
	var recover []string
	for _, name := range names {
		if _, _, ok := parsePartitionDir(name); !ok {
			continue
		}
		dir := filepath.Join(m.dir, name)
		if st := m.state[dir]; st != logClosedClean && (st != logUntouched || !m.vouchedLocked(dir)) {
			recover = append(recover, name)
		}
	}
	m.stateMu.Unlock()
	slices.Sort(recover)
	return vfs.WriteFileAtomic(m.fs, m.dir, filepath.Join(m.dir, cleanShutdownFile), encodeCleanMark(recover))
}

// parallel calls fn on every item, n at a time, and returns the errors.
func parallel[T any](items []T, n int, fn func(T) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range min(max(n, 1), len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(items)); i = next.Add(1) - 1 {
				if err := fn(items[i]); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errs
}
