package store

import (
	"database/sql/driver"
	"testing"

	"github.com/tollgate-gw/tollgate/billing"
)

// The writer hands a row's values to go-sqlite3 as they are, and the driver binds
// only its own types: an int or a billing.Nanos would fail the whole commit.
func TestWriterArgsAreDriverValues(t *testing.T) {
	rec := CallRecord{RequestID: "req_1", TenantID: "t", KeyID: "k", Endpoint: "chat", Model: "m", UpstreamModel: "um",
		ChannelID: "c", Provider: "openai", Status: 200, ErrorCode: "x", ErrorMessage: "y", Stream: true,
		Usage:     billing.Usage{PromptTokens: 1, CachedTokens: 2, CacheWriteTokens: 3, CompletionTokens: 4, ReasoningTokens: 5},
		Estimated: true, HoldAmount: 6, Cost: 7, Attempts: []Attempt{{ChannelID: "c", Status: 200}}, LatencyMs: 8, CreatedAt: 9}
	k, tally := rollupOf(&rec)
	for name, args := range map[string][]any{"request log": appendRecordArgs(nil, &rec), "rollup": rollupArgs(k, &tally)} {
		for i, v := range args {
			if !driver.IsValue(v) {
				t.Errorf("%s value %d is a %T, not a driver value", name, i+1, v)
			}
		}
	}
}
