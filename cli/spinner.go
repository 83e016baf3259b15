package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// spinner shows one changing line of progress on a terminal's stderr. A
// nil spinner (stderr is no terminal) does nothing.
type spinner struct {
	w    io.Writer
	mu   sync.Mutex
	text string
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// startSpinner starts a spinner on stderr when stderr is a terminal.
func (s *session) startSpinner() *spinner {
	if !isTerminal(s.errOut) {
		return nil
	}
	sp := &spinner{w: s.errOut, text: "waiting for the job", quit: make(chan struct{}), done: make(chan struct{})}
	go sp.run()
	return sp
}

var spinnerFrames = []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

func (sp *spinner) run() {
	defer close(sp.done)
	tick := time.NewTicker(120 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		sp.mu.Lock()
		text := sp.text
		sp.mu.Unlock()
		// \r and "erase to the end of the line": the line is redrawn in place.
		fmt.Fprintf(sp.w, "\r%c %s\x1b[K", spinnerFrames[i%len(spinnerFrames)], cut(text, width(sp.w)-3))
		select {
		case <-sp.quit:
			fmt.Fprint(sp.w, "\r\x1b[K")
			return
		case <-tick.C:
		}
	}
}

// set changes the line the spinner shows.
func (sp *spinner) set(text string) {
	if sp == nil {
		return
	}
	sp.mu.Lock()
	sp.text = text
	sp.mu.Unlock()
}

// stop clears the spinner's line; later calls do nothing.
func (sp *spinner) stop() {
	if sp == nil {
		return
	}
	sp.once.Do(func() {
		close(sp.quit)
		<-sp.done
	})
}
