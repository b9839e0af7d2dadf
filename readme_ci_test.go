package parley_test

import (
	"os"
	"strings"
	"testing"
)

// readmeTestCommand is the command README.md gives to run every test.
const readmeTestCommand = "go test -race ./..."

// TestReadmeTestCommandIsCI checks that the test command README.md shows is
// the one CI runs (.ci/run) and the one `task test` runs, so the three
// cannot drift apart.
func TestReadmeTestCommandIsCI(t *testing.T) {
	found := false
	for _, b := range parseReadme(t) {
		if strings.TrimSpace(b.script) == readmeTestCommand {
			found = true
		}
	}
	if !found {
		t.Errorf("README.md has no shell block that is exactly %q", readmeTestCommand)
	}
	for _, file := range []string{".ci/run", "Taskfile.yml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		runs := false
		for line := range strings.SplitSeq(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == readmeTestCommand || line == "- "+readmeTestCommand {
				runs = true
			}
		}
		if !runs {
			t.Errorf("%s does not run %q on a line of its own", file, readmeTestCommand)
		}
	}
}
