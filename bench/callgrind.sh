#!/bin/sh
# Usage: callgrind.sh BINARY BENCHMARK N1 N2 SUB...
#
# Prints the instructions per call of each sub-benchmark SUB (such as
# connect/rest) of the Go benchmark BENCHMARK in the test binary BINARY:
# valgrind's callgrind counts the whole run over N1 and over N2 calls
# (-test.benchtime=Nx), and (count(N2) - count(N1)) / (N2 - N1) leaves the
# set-up out. Counts are the same for the same binary and input whatever
# else the machine runs. GOGC=off: with the collector on, runs differ by up
# to 4%; off, by under 1%. GOMAXPROCS=1 and asyncpreemptoff=1: callgrind
# trips over Go's preemption signals. Needs valgrind (Debian package).
set -eu
bin=$1 bench=$2 n1=$3 n2=$4
shift 4
count() {
	GOGC=off GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$bin" -test.run '^$' -test.bench "^$bench\$/$(echo "$1" | sed 's#[^/]*#^&$#g')" -test.benchtime="$2"x 2>&1 |
		sed -n 's/.*Collected : //p'
}
printf '%-24s %14s %14s %9s\n' benchmark "$n1 calls" "$n2 calls" "per call"
for sub; do
	a=$(count "$sub" "$n1")
	b=$(count "$sub" "$n2")
	printf '%-24s %14s %14s %9s\n' "$sub" "$a" "$b" "$(((b - a) / (n2 - n1)))"
done
