package pipeline

import (
	"fmt"
	"testing"
)

// BenchmarkDecide is one promotion decision with every gate configured and
// 50 check results on the commit.
func BenchmarkDecide(b *testing.B) {
	p := mustPipelineB(b)
	f := productionFacts()
	for i := 0; i < 48; i++ {
		f.Checks = append(f.Checks, Check{Name: fmt.Sprintf("job %d", i), Source: SourceCheckRun, Status: "completed", Conclusion: "success", At: t0})
	}
	f.Trigger = TriggerCommand
	for b.Loop() {
		if d := p.Decide(toProduction, f); d.Outcome != OutcomePromote {
			b.Fatal(d.Outcome, d.Reasons)
		}
	}
}

// BenchmarkRenderPullRequest renders a body listing 250 commits.
func BenchmarkRenderPullRequest(b *testing.B) {
	p := mustPipelineB(b)
	f := productionFacts()
	for i := 0; i < 250; i++ {
		f.Commits = append(f.Commits, Commit{SHA: sha(i), Subject: "Update product catalogue | prices & <stock>", Author: "alice"})
	}
	d := p.Decide(toProduction, f)
	for b.Loop() {
		p.RenderPullRequest(d, f)
	}
}

func mustPipelineB(b *testing.B) *Pipeline { return mustPipeline(b, example) }
