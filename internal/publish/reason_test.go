package publish

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/smithy-go"
)

// A deployment status keeps 140 characters: the service's answer must be
// among them even when the SDK puts it after long request IDs.
func TestReasonPutsTheServiceAnswerFirst(t *testing.T) {
	api := &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
	err := fmt.Errorf("put staging/index.html: operation error S3: PutObject, https response error StatusCode: 403, RequestID: %s, HostID: %s, api error %w",
		strings.Repeat("A", 40), strings.Repeat("H", 80), api)
	got := reason("attempt 1 of 5 failed, retrying", err)
	if utf8.RuneCountInString(got) > 140 {
		t.Fatalf("%d characters: %q", utf8.RuneCountInString(got), got)
	}
	if !strings.HasPrefix(got, "attempt 1 of 5 failed, retrying: AccessDenied: Access Denied (put staging/index.html") {
		t.Fatalf("reason = %q", got)
	}
	if got := reason("deploy failed", errors.New("site root \"public\": not found")); got != "deploy failed: site root \"public\": not found" {
		t.Fatalf("plain reason = %q", got)
	}
}
