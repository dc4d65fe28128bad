package quorum

import (
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// notifier delivers image changes to subscribers from its own goroutine, in
// the order the FSM published them. The FSM never waits for subscribers: the
// queue is unbounded (images share structure, so an entry is small).
type notifier struct {
	mu     sync.Mutex
	queue  []notification // guarded by mu
	wake   chan struct{}  // capacity 1: "the queue is not empty"
	quit   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// notification is an image change, or (subscribe != nil) the arrival of a
// subscriber at this point of the stream.
type notification struct {
	prev, next *metadata.Image
	subscribe  *subscriber
}

type subscriber struct {
	fn        func(prev, next *metadata.Image)
	cancelled atomic.Bool
}

func newNotifier() *notifier {
	n := &notifier{wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go n.run()
	return n
}

func (n *notifier) enqueue(e notification) {
	n.mu.Lock()
	n.queue = append(n.queue, e)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// publish queues the change prev -> next. Called by the FSM goroutine.
func (n *notifier) publish(prev, next *metadata.Image) {
	n.enqueue(notification{prev: prev, next: next})
}

// subscribe adds fn; see Controller.Subscribe.
func (n *notifier) subscribe(fn func(prev, next *metadata.Image)) (cancel func()) {
	s := &subscriber{fn: fn}
	n.enqueue(notification{subscribe: s})
	return func() { s.cancelled.Store(true) }
}

func (n *notifier) run() {
	defer close(n.done)
	var subs []*subscriber        // owned by this goroutine
	last := metadata.EmptyImage() // the image after the last delivered change
	for {
		select {
		case <-n.quit:
			return
		case <-n.wake:
		}
		n.mu.Lock()
		batch := n.queue
		n.queue = nil
		n.mu.Unlock()
		for _, e := range batch {
			select {
			case <-n.quit:
				return
			default:
			}
			if e.subscribe != nil {
				subs = append(subs, e.subscribe)
				e.subscribe.fn(metadata.EmptyImage(), last)
				continue
			}
			last = e.next
			live := subs[:0]
			for _, s := range subs {
				if !s.cancelled.Load() {
					s.fn(e.prev, e.next)
					live = append(live, s)
				}
			}
			clear(subs[len(live):])
			subs = live
		}
	}
}

// close stops the goroutine, dropping undelivered changes, and waits for it.
// It must not be called from a subscriber.
func (n *notifier) close() {
	n.closed.Do(func() { close(n.quit) })
	<-n.done
}
