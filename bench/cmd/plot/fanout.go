package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// plotFanout draws fanout.svg from fanout.csv, if the directory has one:
// two bar charts, one row per subscriber count, read by column name.
func plotFanout(dir string) error {
	rows, err := readCSV(filepath.Join(dir, "fanout.csv"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(rows) < 2 {
		return nil
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	value := func(r []string, name string) float64 {
		i, ok := col[name]
		if !ok || i >= len(r) {
			return 0
		}
		v, _ := strconv.ParseFloat(r[i], 64)
		return v
	}
	rows = rows[1:]

	const (
		left, barH, gap, width = 150, 14, 6, 900
		plotW                  = 600.0
	)
	chartH := len(rows)*(barH+gap) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, 2*chartH+10)

	// p99 on a log scale from 1 ms to 10 s.
	logX := func(ms float64) float64 {
		ms = math.Max(ms, 1)
		return plotW * math.Min(math.Log10(ms)/4, 1)
	}
	fmt.Fprintf(&b, `<text x="4" y="14">publish-to-receive p99, ms (log scale 1 ms - 10 s); red line: 100 ms target</text>`+"\n")
	for i, r := range rows {
		y := 26 + i*(barH+gap)
		p99 := value(r, "p99_ms")
		fmt.Fprintf(&b, `<text x="4" y="%d">%s subs, %.0f ev/s</text>`+"\n", y+11, r[col["subscribers"]], value(r, "published_per_s"))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="#4a7fb5"/>`+"\n", left, y, logX(p99), barH)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d">%.1f ms</text>`+"\n", float64(left)+logX(p99)+4, y+11, p99)
	}
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="20" y2="%d" stroke="red" stroke-dasharray="3"/>`+"\n", float64(left)+logX(100), float64(left)+logX(100), chartH)

	// deliveries/s on a linear scale up to the 500,000/s target.
	top := chartH + 10
	maxRate := 500000.0
	for _, r := range rows {
		maxRate = math.Max(maxRate, value(r, "deliveries_per_s"))
	}
	fmt.Fprintf(&b, `<text x="4" y="%d">deliveries per second (linear); red line: 500,000/s target</text>`+"\n", top+14)
	for i, r := range rows {
		y := top + 26 + i*(barH+gap)
		rate := value(r, "deliveries_per_s")
		w := plotW * rate / maxRate
		fmt.Fprintf(&b, `<text x="4" y="%d">%s subs</text>`+"\n", y+11, r[col["subscribers"]])
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="#6a9f58"/>`+"\n", left, y, w, barH)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d">%.0f/s</text>`+"\n", float64(left)+w+4, y+11, rate)
	}
	tx := float64(left) + plotW*500000/maxRate
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%d" y2="%d" stroke="red" stroke-dasharray="3"/>`+"\n", tx, tx, top+20, 2*chartH+10)
	b.WriteString("</svg>\n")
	return os.WriteFile(filepath.Join(dir, "fanout.svg"), []byte(b.String()), 0o644)
}
