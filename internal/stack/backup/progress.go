package backup

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"
)

// progress prints, every few seconds, the bytes written and time elapsed of
// every item still running, and a line when each one finishes.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	items map[string]*item
	done  chan struct{}
	once  sync.Once
}

type item struct {
	n     atomic.Int64
	start time.Time
	end   time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, items: map[string]*item{}, done: make(chan struct{})}
	if w != nil {
		go p.loop()
	}
	return p
}

func (p *progress) track(name string) *atomic.Int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	it := &item{start: time.Now()}
	p.items[name] = it
	return &it.n
}

func (p *progress) loop() {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.print()
		}
	}
}

func (p *progress) print() {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.items))
	for n := range p.items {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		it := p.items[n]
		if !it.end.IsZero() {
			continue
		}
		fmt.Fprintf(p.w, "backup: %-24s %10s  %s\n", n, humanize.IBytes(uint64(it.n.Load())), time.Since(it.start).Round(100*time.Millisecond))
	}
}

// finish prints the final size and time of name.
func (p *progress) finish(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.items[name]
	if it == nil || !it.end.IsZero() {
		return
	}
	it.end = time.Now()
	if p.w != nil {
		fmt.Fprintf(p.w, "backup: %-24s %10s  %s done\n", name, humanize.IBytes(uint64(it.n.Load())), it.end.Sub(it.start).Round(100*time.Millisecond))
	}
}

func (p *progress) stop() {
	p.once.Do(func() {
		close(p.done)
		if p.w != nil {
			p.print()
		}
	})
}
