// Command report turns the benchmark's CSV files in one directory into
// Markdown tables, written to report.md beside them: the headline ratios as
// recorded, and for every other scenario the median over rounds of each
// cell. Files that are missing are skipped. Run from bench/:
//
//	go run ./cmd/report -in ../docs/bench
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	dir := flag.String("in", "../docs/bench", "directory holding the CSV files; report.md is written beside them")
	flag.Parse()
	var b strings.Builder
	for _, s := range sections {
		t, err := readTable(filepath.Join(*dir, s.file))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(&b, "## %s\n\nFrom `%s`.\n\n", s.title, s.file)
		s.write(&b, t)
		b.WriteString("\n")
	}
	if err := os.WriteFile(filepath.Join(*dir, "report.md"), []byte(b.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}

// section is one CSV file and how to show it.
type section struct {
	file, title string
	write       func(*strings.Builder, *table)
}

var sections = []section{
	{"ratios.csv", "Headline ratios (median of per-round ratios, min-max)", func(b *strings.Builder, t *table) {
		t.rows(b, []string{"payload_bytes", "ratio", "median", "min", "max", "rounds", "target"})
	}},
	{"unary.csv", "Unary, closed loop (medians over rounds; read and write syscalls from /proc/PID/io, -1 where unknown)", func(b *strings.Builder, t *table) {
		t.medians(b, []string{"payload_bytes", "peer", "client"}, []string{"rps", "p50_us", "p99_us", "server_cpu_us_per_rpc", "server_allocs_per_rpc", "server_reads_per_rpc", "server_writes_per_rpc"})
	}},
	{"openloop.csv", "Open loop (medians over rounds; latency from the intended send time)", func(b *strings.Builder, t *table) {
		t.medians(b, []string{"fraction", "peer", "client"}, []string{"target_rps", "achieved_rps", "p50_us", "p99_us", "p999_us", "server_cpu_us_per_rpc"})
	}},
	{"stream.csv", "Server streams and bidi ping-pong (medians over rounds)", func(b *strings.Builder, t *table) {
		t.medians(b, []string{"mode", "streams", "peer"}, []string{"msgs_per_s", "server_cpu_us_per_msg", "server_allocs_per_msg"})
	}},
	{"h2load.csv", "h2load cross-check, unary gRPC (medians over rounds)", func(b *strings.Builder, t *table) {
		t.medians(b, []string{"peer", "tool"}, []string{"rps", "failed", "server_cpu_us_per_rpc"})
	}},
	{"seed.csv", "Seed claims (medians over rounds)", func(b *strings.Builder, t *table) {
		t.medians(b, []string{"claim", "subject", "condition", "metric"}, []string{"value"})
	}},
	{"fanout_ratios.csv", "Fan-out: Parley's ratio to each floor (median of per-round ratios, min-max)", func(b *strings.Builder, t *table) {
		t.rows(b, []string{"subscribers", "ratio", "median", "min", "max", "rounds", "target"})
	}},
	{"fanout.csv", "Fan-out on Parley and the floors (medians over rounds)", func(b *strings.Builder, t *table) {
		t.medians(b, []string{"subscribers", "peer"}, []string{"messages", "published_per_s", "deliveries_per_s", "p50_ms", "p99_ms", "server_bytes_per_idle_sub", "server_stack_bytes_per_idle_sub",
			"server_cpu_us_per_delivery", "server_reads_per_delivery", "server_writes_per_delivery", "loader_cpu_us_per_delivery"})
	}},
	{"durable_ratios.csv", "Durable: Parley's ratio to SQLite's own append (median of per-round ratios, min-max)", func(b *strings.Builder, t *table) {
		t.rows(b, []string{"senders", "ratio", "median", "min", "max", "rounds", "target"})
	}},
	{"durable.csv", "Durable appends on SQLite: SendMessage on Parley, SQLite's own append floor (medians over rounds; floor latency per commit)", func(b *strings.Builder, t *table) {
		t.medians(b, []string{"peer", "per_commit"}, []string{"acks_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_ack", "server_reads_per_ack", "server_writes_per_ack"})
	}},
}

// table is a CSV file: its header and rows.
type table struct {
	col  map[string]int
	data [][]string
}

func readTable(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	all, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	t := &table{col: map[string]int{}, data: all[1:]}
	for i, name := range all[0] {
		t.col[name] = i
	}
	return t, nil
}

func (t *table) get(row []string, name string) string {
	if i, ok := t.col[name]; ok && i < len(row) {
		return row[i]
	}
	return ""
}

// rows writes the named columns of every row as they are.
func (t *table) rows(b *strings.Builder, cols []string) {
	header(b, cols)
	for _, r := range t.data {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = number(t.get(r, c))
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
	}
}

// medians writes one row per distinct value of the key columns, in order of
// first appearance, with the median of each value column over its rows.
func (t *table) medians(b *strings.Builder, keys, values []string) {
	header(b, append(slices.Clone(keys), values...))
	var order []string
	groups := map[string][][]string{}
	for _, r := range t.data {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = t.get(r, k)
		}
		id := strings.Join(parts, "\x00")
		if _, ok := groups[id]; !ok {
			order = append(order, id)
		}
		groups[id] = append(groups[id], r)
	}
	for _, id := range order {
		cells := strings.Split(id, "\x00")
		for _, v := range values {
			var xs []float64
			for _, r := range groups[id] {
				if x, err := strconv.ParseFloat(t.get(r, v), 64); err == nil {
					xs = append(xs, x)
				}
			}
			cells = append(cells, format(median(xs)))
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
	}
}

func header(b *strings.Builder, cols []string) {
	fmt.Fprintf(b, "| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// number shortens a CSV number for reading; other text stays as it is.
func number(s string) string {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return format(x)
}

func format(x float64) string {
	switch {
	case x == float64(int64(x)):
		return strconv.FormatInt(int64(x), 10)
	case x >= 100 || x <= -100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	default:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
}
