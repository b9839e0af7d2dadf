package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Fan-out targets (issue 19, at 10,000 subscribers), drawn as red lines.
const (
	targetP99ms       = 150
	targetDeliveriesS = 100000
)

// fanoutPoint is one subscriber count of Parley's fan-out: medians over
// its rounds.
type fanoutPoint struct {
	subs                 string
	p99, published, rate float64
}

// plotFanout draws fanout.svg from fanout.csv, if the directory has one:
// two bar charts, one row per subscriber count (Parley's rows only, the
// floors' left out; medians over rounds), read by column name.
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
	points := parleyFanout(rows)
	const (
		left, barH, gap, width = 150, 14, 6, 900
		plotW                  = 600.0
	)
	chartH := len(points)*(barH+gap) + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, 2*chartH+10)

	// p99 on a log scale from 1 ms to 10 s.
	logX := func(ms float64) float64 {
		ms = math.Max(ms, 1)
		return plotW * math.Min(math.Log10(ms)/4, 1)
	}
	fmt.Fprintf(&b, `<text x="4" y="14">publish-to-receive p99, ms (log scale 1 ms - 10 s); red line: %d ms target</text>`+"\n", targetP99ms)
	for i, pt := range points {
		y := 26 + i*(barH+gap)
		p99 := pt.p99
		fmt.Fprintf(&b, `<text x="4" y="%d">%s subs, %.0f ev/s</text>`+"\n", y+11, pt.subs, pt.published)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="#4a7fb5"/>`+"\n", left, y, logX(p99), barH)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d">%.1f ms</text>`+"\n", float64(left)+logX(p99)+4, y+11, p99)
	}
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="20" y2="%d" stroke="red" stroke-dasharray="3"/>`+"\n", float64(left)+logX(targetP99ms), float64(left)+logX(targetP99ms), chartH)

	// deliveries/s on a linear scale up to the target or beyond.
	top := chartH + 10
	maxRate := float64(targetDeliveriesS)
	for _, pt := range points {
		maxRate = math.Max(maxRate, pt.rate)
	}
	fmt.Fprintf(&b, `<text x="4" y="%d">deliveries per second (linear); red line: %d/s target</text>`+"\n", top+14, targetDeliveriesS)
	for i, pt := range points {
		y := top + 26 + i*(barH+gap)
		rate := pt.rate
		w := plotW * rate / maxRate
		fmt.Fprintf(&b, `<text x="4" y="%d">%s subs</text>`+"\n", y+11, pt.subs)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="#6a9f58"/>`+"\n", left, y, w, barH)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d">%.0f/s</text>`+"\n", float64(left)+w+4, y+11, rate)
	}
	tx := float64(left) + plotW*targetDeliveriesS/maxRate
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%d" y2="%d" stroke="red" stroke-dasharray="3"/>`+"\n", tx, tx, top+20, 2*chartH+10)
	b.WriteString("</svg>\n")
	return os.WriteFile(filepath.Join(dir, "fanout.svg"), []byte(b.String()), 0o644)
}

// parleyFanout returns, per subscriber count in order of first appearance,
// the medians of Parley's rows (every row when the file has no peer
// column, as before the floors).
func parleyFanout(rows [][]string) []fanoutPoint {
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	get := func(r []string, name string) string {
		if i, ok := col[name]; ok && i < len(r) {
			return r[i]
		}
		return ""
	}
	var order []string
	bySubs := map[string][][]string{}
	for _, r := range rows[1:] {
		if peer := get(r, "peer"); peer != "" && peer != "parley" {
			continue
		}
		subs := get(r, "subscribers")
		if bySubs[subs] == nil {
			order = append(order, subs)
		}
		bySubs[subs] = append(bySubs[subs], r)
	}
	points := make([]fanoutPoint, 0, len(order))
	for _, subs := range order {
		median := func(name string) float64 {
			var xs []float64
			for _, r := range bySubs[subs] {
				v, _ := strconv.ParseFloat(get(r, name), 64)
				xs = append(xs, v)
			}
			slices.Sort(xs)
			if n := len(xs); n%2 == 0 {
				return (xs[n/2-1] + xs[n/2]) / 2
			}
			return xs[len(xs)/2]
		}
		points = append(points, fanoutPoint{subs, median("p99_ms"), median("published_per_s"), median("deliveries_per_s")})
	}
	return points
}
