package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// Batching of shipped lines: a batch goes out when it is full or when its
// first line has waited batchDelay, so a quiet job's lines still show up at
// once and a chatty one makes few requests.
const (
	batchLines = 500
	batchBytes = 1 << 20
	batchDelay = 250 * time.Millisecond
	// lineBuffer bounds the lines read but not yet shipped: when the Sink is
	// down the reader stops here and the engine's log file holds the rest.
	lineBuffer = 2 * batchLines
)

// readLogs sends the container's log lines numbered from 1, skipping those
// up to from.LastAckedSeq, and closes out. It reads in passes over the whole
// log: following while the container runs, then once more without follow
// after it exited, which catches anything a follow stream lost (a broken
// connection, an engine that ends the stream early). A pass numbers the lines
// it sees from the log's start, so every pass agrees on the numbering and
// only lines beyond those already sent go out. It returns nil only once the
// whole log of the exited container was sent.
func (r *run) readLogs(ctx context.Context, exited <-chan struct{}, out chan<- LogLine) error {
	defer close(out)
	sent := r.from.LastAckedSeq
	var bo backoff
	for {
		final := isClosed(exited)
		seen, err := r.readPass(ctx, !final, sent, out)
		sent = max(sent, seen)
		if ctx.Err() != nil {
			return fmt.Errorf("log reading stopped after line %d: %w", sent, ctx.Err())
		}
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("read logs: %w: %v", ErrContainerGone, err)
		}
		if err != nil {
			r.e.log.Warn("reading container logs failed, reading again", "run_id", r.spec.RunID, "after_line", sent, "error", err)
			if !bo.sleep(ctx) {
				return fmt.Errorf("log reading stopped after line %d: %w", sent, ctx.Err())
			}
			continue
		}
		bo = backoff{}
		if final {
			return nil
		}
		// The follow stream ended: normally the container exited. If it did
		// not, follow again.
		t := time.NewTimer(time.Second)
		select {
		case <-exited:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// readPass reads the log once from its start and returns the number of lines
// it saw. Pending parts of a line are dropped at the end of a follow pass
// (the next pass sees them whole) and sent at the end of the final pass.
func (r *run) readPass(ctx context.Context, follow bool, skip int64, out chan<- LogLine) (int64, error) {
	body, err := r.e.docker.ContainerLogs(ctx, r.id, container.LogsOptions{
		ShowStdout: true, ShowStderr: true, Follow: follow, Timestamps: true,
	})
	if err != nil {
		return 0, err
	}
	defer body.Close()
	var seq int64
	a := newAssembler(func(l LogLine) error {
		seq++
		if seq <= skip {
			return nil
		}
		l.Seq = seq
		select {
		case out <- l:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	// StdCopy hands each frame, which the engine writes per log message, to
	// the stream's writer in one Write.
	if _, err := stdcopy.StdCopy(a.writer("stdout"), a.writer("stderr"), body); err != nil {
		return seq, err
	}
	if !follow {
		return seq, a.flush()
	}
	return seq, nil
}

// assembler turns the engine's log messages into lines. With timestamps on,
// each message is "<RFC 3339 time> <text>"; a line longer than the engine's
// 16 KiB buffer arrives as several messages of which only the last ends in a
// newline, each with its own timestamp. The parts are joined again, up to
// MaxLineBytes per LogLine.
type assembler struct {
	emit    func(LogLine) error
	pending map[string]*pendingLine
}

type pendingLine struct {
	text []byte
	time time.Time
	open bool
}

func newAssembler(emit func(LogLine) error) *assembler {
	return &assembler{emit: emit, pending: map[string]*pendingLine{"stdout": {}, "stderr": {}}}
}

type streamWriter struct {
	a      *assembler
	stream string
}

func (w streamWriter) Write(p []byte) (int, error) { return len(p), w.a.message(w.stream, p) }

func (a *assembler) writer(stream string) streamWriter { return streamWriter{a: a, stream: stream} }

// message takes one engine log message of stream.
func (a *assembler) message(stream string, msg []byte) error {
	t := time.Time{}
	if ts, text, ok := bytes.Cut(msg, []byte{' '}); ok {
		if parsed, err := time.Parse(time.RFC3339Nano, string(ts)); err == nil {
			t, msg = parsed, text
		}
	}
	p := a.pending[stream]
	for len(msg) > 0 {
		if !p.open {
			p.open, p.time = true, t
		}
		chunk, rest, complete := bytes.Cut(msg, []byte{'\n'})
		p.text = append(p.text, chunk...)
		for len(p.text) > MaxLineBytes {
			piece := string(p.text[:MaxLineBytes])
			p.text = append(p.text[:0], p.text[MaxLineBytes:]...)
			if err := a.emit(LogLine{Stream: stream, Time: p.time, Text: piece, Partial: true}); err != nil {
				return err
			}
		}
		if complete {
			line := LogLine{Stream: stream, Time: p.time, Text: string(p.text)}
			p.text, p.open = p.text[:0], false
			if err := a.emit(line); err != nil {
				return err
			}
		}
		msg = rest
	}
	return nil
}

// flush sends what is left of unfinished lines, stdout first so that every
// pass numbers them alike.
func (a *assembler) flush() error {
	for _, stream := range []string{"stdout", "stderr"} {
		p := a.pending[stream]
		if !p.open {
			continue
		}
		line := LogLine{Stream: stream, Time: p.time, Text: string(p.text)}
		p.text, p.open = nil, false
		if err := a.emit(line); err != nil {
			return err
		}
	}
	return nil
}

// shipLogs batches lines to the Sink in order. It returns nil once in was
// closed and everything received was acknowledged.
func (r *run) shipLogs(ctx context.Context, in <-chan LogLine) error {
	var (
		batch []LogLine
		size  int
		due   <-chan time.Time
	)
	timer := time.NewTimer(batchDelay)
	timer.Stop()
	defer timer.Stop()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := r.shipBatch(ctx, batch)
		batch, size, due = nil, 0, nil // a new slice: the Sink may keep the old one
		timer.Stop()
		return err
	}
	for {
		select {
		case l, ok := <-in:
			if !ok {
				return flush()
			}
			batch = append(batch, l)
			size += len(l.Text)
			if len(batch) == 1 {
				timer.Reset(batchDelay)
				due = timer.C
			}
			if len(batch) >= batchLines || size >= batchBytes {
				if err := flush(); err != nil {
					return err
				}
			}
		case <-due:
			if err := flush(); err != nil {
				return err
			}
		case <-ctx.Done():
			if len(batch) == 0 {
				if _, ok := <-in; !ok {
					return nil // the reader had finished: nothing is unshipped
				}
			}
			return fmt.Errorf("log shipping stopped with lines unshipped: %w", ctx.Err())
		}
	}
}

// shipBatch retries one batch until the Sink takes it or ctx ends, then
// reports the new cursor.
func (r *run) shipBatch(ctx context.Context, batch []LogLine) error {
	first, last := batch[0].Seq, batch[len(batch)-1].Seq
	var bo backoff
	for {
		err := r.sink.ShipLogs(ctx, r.spec.RunID, batch)
		if err == nil {
			r.progress(Cursor{ContainerID: r.id, LastAckedSeq: last})
			return nil
		}
		if errors.Is(err, ErrSinkRejected) {
			return fmt.Errorf("ship log lines %d-%d: %w", first, last, err)
		}
		if bo.n%10 == 0 {
			r.e.log.Warn("shipping logs failed, retrying", "run_id", r.spec.RunID, "lines", fmt.Sprintf("%d-%d", first, last), "attempt", bo.n+1, "error", err)
		}
		if !bo.sleep(ctx) {
			return fmt.Errorf("ship log lines %d-%d: %w (last Sink error: %v)", first, last, ctx.Err(), err)
		}
	}
}
