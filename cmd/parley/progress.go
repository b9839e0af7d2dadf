package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressBar draws "name [#####     ]  52%  4.2 MiB / 8.0 MiB" on one
// terminal line, redrawn at most ten times a second. On anything but a
// terminal it draws nothing: logs and pipes stay clean.
type progressBar struct {
	w     io.Writer
	on    bool
	label string
	drawn time.Time
	shown bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, on: isTerminal(w), label: label}
}

func (p *progressBar) update(done, total int64) {
	if !p.on || total <= 0 || done < total && time.Since(p.drawn) < 100*time.Millisecond {
		return
	}
	p.drawn = time.Now()
	p.shown = true
	const width = 30
	filled := int(done * width / total)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%%  %s / %s ", p.label, strings.Repeat("#", filled), strings.Repeat(" ", width-filled),
		done*100/total, byteSize(done), byteSize(total))
}

// finish ends the bar's line, if one was drawn.
func (p *progressBar) finish() {
	if p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
}
