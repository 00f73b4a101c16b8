package benchaccept

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// A throttled entry is answered ProvisionedThroughputExceededException and
// counted nowhere but in Throttled; the stored ones are counted exactly.
func TestAcceptorThrottle(t *testing.T) {
	a := start(t, Options{Throttle: 0.9, Distinct: true})
	kc := client(t, a, nil)
	// Entry i holds i%4+1 lines, so the counts tell which entries were
	// stored.
	entries := make([]types.PutRecordsRequestEntry, 500)
	lines := func(i int) int { return i%4 + 1 }
	for i := range entries {
		var b strings.Builder
		for j := range lines(i) {
			fmt.Fprintf(&b, "entry %d line %d\n", i, j)
		}
		entries[i] = line(b.String())
	}
	out, err := put(kc, t, entries...)
	if err != nil {
		t.Fatal(err)
	}
	failed, storedLines := 0, 0
	seqs := map[string]bool{}
	for i, r := range out.Records {
		switch {
		case r.ErrorCode != nil:
			failed++
			if *r.ErrorCode != "ProvisionedThroughputExceededException" || !strings.Contains(aws.ToString(r.ErrorMessage), "Rate exceeded") ||
				r.SequenceNumber != nil {
				t.Errorf("entry %d: %+v, want a throttled entry", i, r)
			}
		case r.SequenceNumber != nil && !seqs[*r.SequenceNumber]:
			seqs[*r.SequenceNumber] = true
			storedLines += lines(i)
		default:
			t.Errorf("entry %d: %+v, want a new sequence number or an error", i, r)
		}
	}
	// 90% of 500: all or none refused has a chance of 10^-23 or less.
	if failed == 0 || failed == len(entries) || int(aws.ToInt32(out.FailedRecordCount)) != failed || len(out.Records) != len(entries) {
		t.Fatalf("%d of %d entries failed, FailedRecordCount %d", failed, len(out.Records), aws.ToInt32(out.FailedRecordCount))
	}
	s := a.Stats()
	stored := int64(len(entries) - failed)
	if s.Records != stored || s.Throttled != int64(failed) || s.UserRecords != int64(storedLines) || s.Distinct != int64(storedLines) ||
		s.PayloadUnits != stored {
		t.Errorf("Stats = %+v; want %d records, %d throttled, %d user records, all distinct", s, stored, failed, storedLines)
	}

	// Unthrottled, everything is stored; what was stored before comes
	// again as duplicates.
	a.SetThrottle(0)
	out, err = put(kc, t, entries...)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("unthrottled: %d failed", aws.ToInt32(out.FailedRecordCount))
	}
	all := 0
	for i := range entries {
		all += lines(i)
	}
	s = a.Stats()
	if s.UserRecords != int64(storedLines+all) || s.Distinct != int64(all) || s.Throttled != int64(failed) {
		t.Errorf("Stats = %+v; want %d user records, %d distinct, %d throttled", s, storedLines+all, all, failed)
	}

	a.SetThrottle(1)
	if out, err = put(kc, t, entries[:3]...); err != nil || aws.ToInt32(out.FailedRecordCount) != 3 {
		t.Errorf("throttled fully: %v, %d failed; want 3", err, aws.ToInt32(out.FailedRecordCount))
	}
}

func TestStartRejects(t *testing.T) {
	for _, o := range []Options{{Throttle: -0.1}, {Throttle: 1.5}, {HTTP2: true}} {
		if a, err := Start(o); err == nil {
			a.Close()
			t.Errorf("Start(%+v) succeeded", o)
		}
	}
}
