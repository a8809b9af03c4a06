package main

import (
	"context"
	"io"
	"os"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal. A progress bar redraws its line
// with control sequences, which only make sense on a terminal; in a pipe or a
// log file they would be noise.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// hashProgress shows a progress bar for hashing on w. It is safe for
// concurrent use: the builder may report progress from several workers.
type hashProgress struct {
	ctx   context.Context
	w     io.Writer
	label string

	mu        sync.Mutex
	container *mpb.Progress // nil until the first report
	bar       *mpb.Bar
	highest   int64 // reports may arrive out of order; the bar never goes back
}

// newHashProgress returns a progress display writing to w, or nil when
// enabled is false. The bar appears with the first report.
func newHashProgress(ctx context.Context, w io.Writer, label string, enabled bool) *hashProgress {
	if !enabled {
		return nil
	}
	return &hashProgress{ctx: ctx, w: w, label: label}
}

// report records that hashed of total bytes are done. It fits the builder's
// Progress callback. A nil *hashProgress ignores reports.
func (p *hashProgress) report(hashed, total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		// The caller decided that w is a terminal; auto refresh makes mpb
		// draw on any writer, so tests can watch it too.
		p.container = mpb.NewWithContext(p.ctx, mpb.WithOutput(p.w), mpb.WithWidth(40), mpb.WithAutoRefresh())
		p.bar = p.container.AddBar(total,
			mpb.PrependDecorators(
				decor.Name(p.label, decor.WCSyncSpaceR),
				decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace),
			),
			mpb.AppendDecorators(
				decor.Percentage(decor.WCSyncSpace),
				decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
				decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpace), ""),
			),
		)
	}
	if hashed > p.highest {
		p.highest = hashed
		p.bar.SetCurrent(hashed)
	}
}

// finish completes the bar (ok) or abandons it where it stopped, then waits
// until the bar's last frame is drawn so that nothing printed afterwards is
// interleaved with it.
func (p *hashProgress) finish(ok bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.container == nil {
		return
	}
	if ok {
		p.bar.SetTotal(-1, true)
	} else {
		p.bar.Abort(false)
	}
	p.container.Wait()
	p.container = nil
}
