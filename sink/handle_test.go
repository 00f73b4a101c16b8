// Tests of send, handle, requeue and giveUp through a fake put client: what
// each answer or failure does to acknowledgements, the queue, the backoff,
// the counters and the dead-letter file, without HTTP.

package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// fakePut is a put client that answers from a script, one answer per call.
type fakePut struct {
	answers []fakeAnswer
	calls   int
}

// fakeAnswer is one call's outcome: err, or else one status per entry
// (noFailure for a stored one) with the first failure's code.
type fakeAnswer struct {
	err    error
	status []failure
	code   string
}

func (f *fakePut) put(_ context.Context, b *putBuffers) error {
	if f.calls >= len(f.answers) {
		return errors.New("fakePut: no answer scripted")
	}
	a := f.answers[f.calls]
	f.calls++
	if a.err != nil {
		return a.err
	}
	b.res.reset()
	b.res.status = append(b.res.status, a.status...)
	b.res.code = a.code
	return nil
}

func (f *fakePut) endpoint() string { return "https://kinesis.test" }

// fakeStream returns the dispatcher of a Kinesis Stream that sends through
// put, started at now, with the test destination's settings changed by
// tweak.
func fakeStream(t *testing.T, tweak func(*settings), put putter, now time.Time) *dispatcher {
	t.Helper()
	set := newSettings(testDestination("http://127.0.0.1:9"), "")
	if tweak != nil {
		tweak(&set)
	}
	k := &Stream{name: "test", set: set, put: put, rng: rand.New(rand.NewPCG(1, 2)), log: slog.New(slog.DiscardHandler)}
	return &dispatcher{k: k, start: now, q: newQueue(set.limits(), nil)}
}

// What a request's outcome does to the next ones: entries that failed are
// queued again in front either way; the dispatcher pauses (moves its gate)
// only when nothing got through or something needs the operator, never for
// a partly throttled request, so a stream that accepts a tenth of what is
// sent gets a tenth of full speed.
func TestDispatcherBacksOffOnlyWhenNothingGetsThrough(t *testing.T) {
	tests := []struct {
		name      string
		r         request
		wantPause bool
	}{
		{"partly throttled", request{answered: true, stored: 9, throttled: 1}, false},
		{"partly failed, transient", request{answered: true, stored: 5}, false},
		{"all throttled", request{answered: true, stored: 0, throttled: 1}, true},
		{"partly refused for the operator", request{answered: true, stored: 9, refused: 1}, true},
		{"request failed", request{err: errors.New("connection reset")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now()
			d := fakeStream(t, nil, &fakePut{}, now)
			r := tt.r
			r.entries = []entry{{data: []byte("failed"), size: 6 + derivedKeyLen}}
			r.sentAt = now
			d.handle(&r, now)
			if paused := d.gate.After(now); paused != tt.wantPause {
				t.Errorf("paused = %v (gate %v after the answer), want %v", paused, d.gate.Sub(now), tt.wantPause)
			}
			if d.q.len() != 1 {
				t.Fatalf("%d entries queued again, want the failed one", d.q.len())
			}
			if got := d.q.take(nil, now.Add(time.Hour)); len(got) != 1 || got[0].attempts != 1 {
				t.Errorf("requeued %+v, want the failed entry with one attempt", got)
			}
		})
	}
}

// TestSendAndHandle makes one call with entries a, b, c (b packs the user
// records b1 and b2) through a fake put client, hands the request back to
// the dispatcher, and checks what was acknowledged, what is queued again
// with which attempt count, what was given up and where, the counters, and
// the backoff.
func TestSendAndHandle(t *testing.T) {
	const maxBackoff = 10 * time.Second
	S, T, X, R := noFailure, failThrottled, failTransient, failRefused
	tests := []struct {
		name     string
		tweak    func(*settings)
		attempts int // of every entry before the call
		age      time.Duration
		answer   fakeAnswer
		dead     bool // with a dead-letter file
		deadFail bool // whose writes fail

		wantAcked   []string       // user records acknowledged
		wantQueued  map[string]int // entries queued again, with their attempts
		wantDead    []string       // user records in the dead-letter file
		wantPause   bool           // the gate moved
		wantMaxWait bool           // to exactly the maximum backoff
		want        StreamStats
	}{
		{
			name:      "everything stored is acknowledged, each packed record too",
			answer:    fakeAnswer{status: []failure{S, S, S}},
			wantAcked: []string{"a", "b1", "b2", "c"},
			want:      StreamStats{Requests: 1, RecordsSent: 3, RecordsStored: 4, ServiceRecords: 3, BytesStored: 6, PayloadUnits: 3},
		},
		{
			name:       "a throttled entry goes first again, without a pause",
			answer:     fakeAnswer{status: []failure{S, T, S}, code: "ProvisionedThroughputExceededException"},
			wantAcked:  []string{"a", "c"},
			wantQueued: map[string]int{"b": 1},
			want: StreamStats{Requests: 1, RecordsSent: 3, RecordsStored: 2, ServiceRecords: 2, BytesStored: 2, PayloadUnits: 2,
				FailedEntries: 1, Throttled: 1, Retries: 1},
		},
		{
			name:       "nothing stored backs off",
			answer:     fakeAnswer{status: []failure{T, X, T}, code: "ProvisionedThroughputExceededException"},
			wantQueued: map[string]int{"a": 1, "b": 1, "c": 1},
			wantPause:  true,
			want:       StreamStats{Requests: 1, RecordsSent: 3, FailedEntries: 3, Throttled: 2, Retries: 3},
		},
		{
			name:       "an entry refused beside stored ones slows down",
			answer:     fakeAnswer{status: []failure{S, S, R}, code: "KMSAccessDeniedException"},
			wantAcked:  []string{"a", "b1", "b2"},
			wantQueued: map[string]int{"c": 1},
			wantPause:  true,
			want:       StreamStats{Requests: 1, RecordsSent: 3, RecordsStored: 3, ServiceRecords: 2, BytesStored: 5, PayloadUnits: 2, FailedEntries: 1, Retries: 1},
		},
		{
			name:        "every entry refused waits the maximum backoff",
			answer:      fakeAnswer{status: []failure{R, R, R}, code: "KMSDisabledException"},
			wantQueued:  map[string]int{"a": 1, "b": 1, "c": 1},
			wantPause:   true,
			wantMaxWait: true,
			want:        StreamStats{Requests: 1, RecordsSent: 3, FailedEntries: 3, Retries: 3},
		},
		{
			name:        "a refused request waits the maximum backoff",
			answer:      fakeAnswer{err: apiErr(400, "AccessDeniedException")},
			wantQueued:  map[string]int{"a": 1, "b": 1, "c": 1},
			wantPause:   true,
			wantMaxWait: true,
			want:        StreamStats{Requests: 1, RecordsSent: 3, RequestErrors: 1, Retries: 3},
		},
		{
			name:       "a throttled request backs off and counts as throttled",
			answer:     fakeAnswer{err: apiErr(400, "ProvisionedThroughputExceededException")},
			wantQueued: map[string]int{"a": 1, "b": 1, "c": 1},
			wantPause:  true,
			want:       StreamStats{Requests: 1, RecordsSent: 3, RequestErrors: 1, Throttled: 1, Retries: 3},
		},
		{
			name:       "an answer for a different number of entries resends them all",
			answer:     fakeAnswer{status: []failure{S, S}},
			wantQueued: map[string]int{"a": 1, "b": 1, "c": 1},
			wantPause:  true,
			want:       StreamStats{Requests: 1, RecordsSent: 3, RequestErrors: 1, Retries: 3},
		},
		{
			name:      "entries at retry.max_attempts are dropped and acknowledged",
			tweak:     func(s *settings) { s.maxAttempts = 3 },
			attempts:  2,
			answer:    fakeAnswer{status: []failure{S, X, X}, code: "InternalFailure"},
			wantAcked: []string{"a", "b1", "b2", "c"},
			want: StreamStats{Requests: 1, RecordsSent: 3, RecordsStored: 1, ServiceRecords: 1, BytesStored: 1, PayloadUnits: 1,
				FailedEntries: 2, Dropped: 3},
		},
		{
			name:       "entries below retry.max_attempts are kept",
			tweak:      func(s *settings) { s.maxAttempts = 3 },
			attempts:   1,
			answer:     fakeAnswer{status: []failure{X, X, X}, code: "InternalFailure"},
			wantQueued: map[string]int{"a": 2, "b": 2, "c": 2},
			wantPause:  true,
			want:       StreamStats{Requests: 1, RecordsSent: 3, FailedEntries: 3, Retries: 3},
		},
		{
			name:      "entries older than retry.max_record_age go to the dead-letter file",
			tweak:     func(s *settings) { s.maxRecordAge = time.Minute },
			age:       2 * time.Minute,
			answer:    fakeAnswer{err: apiErr(500, "InternalFailure")},
			dead:      true,
			wantAcked: []string{"a", "b1", "b2", "c"},
			wantDead:  []string{"a", "b1", "b2", "c"},
			wantPause: true,
			want:      StreamStats{Requests: 1, RecordsSent: 3, RequestErrors: 1, DeadLettered: 4},
		},
		{
			name:       "entries the dead-letter file cannot take are kept, not acknowledged",
			tweak:      func(s *settings) { s.maxAttempts = 1 },
			answer:     fakeAnswer{status: []failure{S, T, T}, code: "ProvisionedThroughputExceededException"},
			dead:       true,
			deadFail:   true,
			wantAcked:  []string{"a"},
			wantQueued: map[string]int{"b": 1, "c": 1},
			want: StreamStats{Requests: 1, RecordsSent: 3, RecordsStored: 1, ServiceRecords: 1, BytesStored: 1, PayloadUnits: 1,
				FailedEntries: 2, Throttled: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			now := start.Add(tt.age + time.Second)
			tweak := func(s *settings) {
				s.maxBackoff = maxBackoff
				if tt.tweak != nil {
					tt.tweak(s)
				}
			}
			d := fakeStream(t, tweak, &fakePut{answers: []fakeAnswer{tt.answer}}, start)
			var path string
			if tt.dead {
				path = filepath.Join(t.TempDir(), "dead.jsonl")
				dl, err := OpenDeadLetter(path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { dl.Close() })
				if tt.deadFail {
					dl.Close()
				}
				d.k.dead = dl
			}

			names := []string{"a", "b1", "b2", "c"}
			acks := newAckCounter(len(names))
			user := func(i int) entry {
				return entry{data: []byte(names[i]), key: "k", ack: acks.group(i), size: len(names[i]) + 1, attempts: tt.attempts}
			}
			b := entry{key: "k", parts: []entry{user(1), user(2)}, attempts: tt.attempts}
			b.size = len(b.parts[0].data) + len(b.parts[1].data) + 1
			r := &request{entries: []entry{user(0), b, user(3)}, sentAt: now}

			d.k.send(context.Background(), &keySource{deterministic: true}, &r.bufs, r)
			d.handle(r, now)

			var acked []string
			ackedSet := acks.acked(t)
			for i := range names {
				if ackedSet[i] {
					acked = append(acked, names[i])
				}
			}
			if !reflect.DeepEqual(acked, tt.wantAcked) {
				t.Errorf("acknowledged %v, want %v", acked, tt.wantAcked)
			}
			queued := map[string]int{}
			for _, e := range d.q.take(nil, now.Add(time.Hour)) {
				name := string(e.data)
				if e.parts != nil {
					name = "b"
				}
				queued[name] = e.attempts
			}
			want := tt.wantQueued
			if want == nil {
				want = map[string]int{}
			}
			if !reflect.DeepEqual(queued, want) {
				t.Errorf("queued again %v, want %v", queued, want)
			}
			if tt.dead && !tt.deadFail {
				var dead []string
				for _, rec := range readDeadLetters(t, path) {
					dead = append(dead, string(rec.Data))
					if rec.Destination != "test" || rec.Error == "" || rec.Attempts != tt.attempts+1 {
						t.Errorf("dead letter %+v: want destination test, an error and %d attempts", rec, tt.attempts+1)
					}
				}
				if !reflect.DeepEqual(dead, tt.wantDead) {
					t.Errorf("dead letters %v, want %v", dead, tt.wantDead)
				}
			}
			if got := d.k.Stats(); got != tt.want {
				t.Errorf("stats\n %+v\nwant\n %+v", got, tt.want)
			}
			if paused := d.gate.After(now); paused != tt.wantPause {
				t.Errorf("paused = %v (gate %v after the answer), want %v", paused, d.gate.Sub(now), tt.wantPause)
			}
			if wait := d.gate.Sub(now); tt.wantMaxWait && wait != maxBackoff {
				t.Errorf("waits %v, want the maximum backoff %v", wait, maxBackoff)
			}
		})
	}
}

// A wave of requests that fail together raises the backoff once, and a
// request that stores something resets it.
func TestHandleCountsFailedWaves(t *testing.T) {
	start := time.Now()
	d := fakeStream(t, nil, &fakePut{}, start)
	fail := func(sentAt, now time.Time) {
		r := &request{err: fmt.Errorf("PutRecords: %w", apiErr(500, "InternalFailure")), sentAt: sentAt,
			entries: []entry{{data: []byte("x"), size: 2}}}
		d.handle(r, now)
	}
	t0 := start.Add(time.Second)
	fail(start, t0)
	fail(start, t0.Add(time.Millisecond)) // in flight with the first
	if d.failures != 1 {
		t.Fatalf("%d failed waves after two requests of one wave, want 1", d.failures)
	}
	fail(t0.Add(2*time.Millisecond), t0.Add(time.Second)) // sent after the first failure
	if d.failures != 2 {
		t.Fatalf("%d failed waves after a second wave, want 2", d.failures)
	}
	d.handle(&request{answered: true, stored: 1, sentAt: t0, entries: nil}, t0.Add(2*time.Second))
	if d.failures != 0 {
		t.Errorf("%d failed waves after a request stored something, want 0", d.failures)
	}
}
