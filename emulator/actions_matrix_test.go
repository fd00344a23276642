package emulator

import (
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// The expansion example of GitHub's documentation ("Expanding or adding
// matrix configurations", docs.github.com/en/actions/writing-workflows/
// choosing-what-your-workflow-does/running-variations-of-jobs-in-a-workflow):
// includes extend original combinations without changing their original
// values, may overwrite values an earlier include added, and otherwise
// become combinations of their own.
func TestMatrixExpansionAsDocumented(t *testing.T) {
	const wf = `
jobs:
  example_matrix:
    strategy:
      matrix:
        fruit: [apple, pear]
        animal: [cat, dog]
        include:
          - color: green
          - color: pink
            animal: cat
          - fruit: apple
            shape: circle
          - fruit: banana
          - fruit: banana
            animal: cat
  excluded:
    strategy:
      matrix:
        os: [macos-latest, windows-latest]
        version: [12, 14, 16]
        environment: [staging, production]
        exclude:
          - os: macos-latest
            version: 12
            environment: production
          - os: windows-latest
            version: 16
  named:
    name: node ${{ matrix.version }}
    strategy: { matrix: { version: [10, 12] } }
  plain: {}
`
	var doc struct {
		Jobs yaml.Node `yaml:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(wf), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range workflowJobs(doc.Jobs) {
		got = append(got, j.name)
	}
	want := []string{
		"example_matrix (apple, cat, pink, circle)", "example_matrix (apple, dog, green, circle)",
		"example_matrix (pear, cat, pink)", "example_matrix (pear, dog, green)",
		"example_matrix (banana)", "example_matrix (banana, cat)",
	}
	// 12 combinations less the 1 + 2 excluded.
	for _, os := range []string{"macos-latest", "windows-latest"} {
		for _, v := range []string{"12", "14", "16"} {
			for _, env := range []string{"staging", "production"} {
				if (os == "macos-latest" && v == "12" && env == "production") || (os == "windows-latest" && v == "16") {
					continue
				}
				want = append(want, "excluded ("+os+", "+v+", "+env+")")
			}
		}
	}
	want = append(want, "node 10", "node 12", "plain")
	if !slices.Equal(got, want) {
		t.Errorf("jobs:\n got %q\nwant %q", got, want)
	}
}
