// Command plot draws SVG plots from the benchmark's CSV files in one
// directory: ratios.svg from ratios.csv (one bar per headline ratio and
// payload, median, with a min-max whisker and a line at 1.0), and, if the
// directory has fanout.csv, fanout.svg (per subscriber count the
// publish-to-receive p99 on a log scale and the deliveries per second,
// each with its target line). Run from bench/:
//
//	go run ./cmd/plot -in ../docs/bench
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"html"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	dir := flag.String("in", "../docs/bench", "directory holding ratios.csv; ratios.svg is written beside it")
	flag.Parse()
	if err := plot(*dir); err != nil {
		log.Fatal(err)
	}
	if err := plotFanout(*dir); err != nil {
		log.Fatal(err)
	}
}

// readCSV returns every row of the CSV file at path, header included.
func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	return csv.NewReader(f).ReadAll()
}

func plot(dir string) error {
	rows, err := readCSV(filepath.Join(dir, "ratios.csv"))
	if err != nil {
		return err
	}
	rows = rows[1:] // payload_bytes, ratio, metric, median, min, max, rounds, target
	const (
		left, barH, gap, width = 520, 14, 6, 1150
		scale                  = 110.0 // pixels per 1.0x
	)
	height := 40 + len(rows)*(barH+gap)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="4" y="14">median of per-round ratios (whisker: min-max); line at 1.0x</text>`+"\n")
	for i, r := range rows {
		med, _ := strconv.ParseFloat(r[3], 64)
		lo, _ := strconv.ParseFloat(r[4], 64)
		hi, _ := strconv.ParseFloat(r[5], 64)
		y := 30 + i*(barH+gap)
		fmt.Fprintf(&b, `<text x="4" y="%d">%s (%s B)</text>`+"\n", y+11, html.EscapeString(r[1]), r[0])
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="#4a7fb5"/>`+"\n", left, y, med*scale, barH)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%d" y2="%d" stroke="black"/>`+"\n", left+lo*scale, left+hi*scale, y+barH/2, y+barH/2)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d">%.2fx</text>`+"\n", left+hi*scale+4, y+11, med)
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="24" y2="%d" stroke="red" stroke-dasharray="3"/>`+"\n", left+int(scale), left+int(scale), height)
	b.WriteString("</svg>\n")
	return os.WriteFile(filepath.Join(dir, "ratios.svg"), []byte(b.String()), 0o644)
}
