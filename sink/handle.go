// What a request's outcome does to the next ones: backoff, requeueing the
// failed entries, giving up on them (dead letters), and the logs that say
// so.

package sink

import (
	"context"
	"log/slog"
	"time"
)

// handle takes a request back from a worker: it requeues what failed and
// sets the backoff.
func (d *dispatcher) handle(r *request, now time.Time) {
	d.k.observe(r, now)
	d.k.mem.add(-r.cost)
	defer func() {
		r.reset()
		// Idle requests keep their buffers: only as many as could be
		// sent at once within the budget are kept.
		if d.k.set.memory == 0 || int64(len(d.free)+d.inFlight+1)*d.peak <= d.k.set.memory {
			d.free = append(d.free, r)
		}
	}()
	set := &d.k.set
	switch {
	case r.err != nil:
		f := set.proto.classify(r.err)
		d.k.stats.requestErrors.Add(1)
		if f == failThrottled {
			d.k.stats.throttled.Add(1)
		}
		attempt := d.failed(r, now)
		delay := set.maxBackoff
		if f != failRefused {
			delay = backoff(d.k.rng, attempt, set.initialBackoff, set.maxBackoff)
		}
		d.delay(now, delay)
		d.logRequestError(r.err, f, len(r.entries), now)
	case len(r.entries) == 0:
		d.succeeded(now)
		return
	case d.shards != nil && r.throttled == len(r.entries):
		// Shard-aware: only the throttled shards' lanes slow down (below).
		d.logEntryErrors(r, now)
	case r.stored == 0:
		// Nothing got through: as bad as a failed request.
		attempt := d.failed(r, now)
		delay := backoff(d.k.rng, attempt, set.initialBackoff, set.maxBackoff)
		if r.refused == len(r.entries) {
			delay = set.maxBackoff
		}
		d.delay(now, delay)
		d.logEntryErrors(r, now)
	case r.refused > 0:
		// Some entries were stored, and some refused for a reason only the
		// operator can fix (a KMS key): not at full speed.
		d.succeeded(now)
		d.delay(now, backoff(d.k.rng, 1, set.initialBackoff, set.maxBackoff))
		d.logEntryErrors(r, now)
	default:
		// Some entries were stored: the stream works, and what it
		// refused (throttled shards, mostly) goes first in the next
		// requests, without a pause: a stream that accepts a tenth of
		// what is sent stores a tenth of what is sent, not a tenth of a
		// request per backoff. Requests that store nothing back off
		// (above), and shard-aware mode paces each shard.
		d.succeeded(now)
		d.logEntryErrors(r, now)
	}
	if r.throttled > 0 && d.shards != nil {
		select {
		case d.relist <- struct{}{}:
		default:
		}
		for i := range r.entries {
			d.q.lanes[d.laneOf(&r.entries[i])].pace.throttled(now)
		}
	}
	d.requeue(r, now)
}

// failed records a failed wave and returns the backoff attempt number.
func (d *dispatcher) failed(r *request, now time.Time) int {
	if d.failures == 0 || !r.sentAt.Before(d.lastFail) {
		d.failures++
	}
	d.lastFail = now
	return d.failures
}

func (d *dispatcher) succeeded(now time.Time) {
	if d.failures > 0 && !d.lastFail.IsZero() {
		d.k.log.Info("requests succeed again", "failed_waves", d.failures, "after", now.Sub(d.lastFail).Round(time.Millisecond))
	}
	d.failures = 0
}

func (d *dispatcher) delay(now time.Time, delay time.Duration) {
	if t := now.Add(delay); t.After(d.gate) {
		d.gate = t
	}
}

// requeue puts r's failed entries back at the front of their lane, or gives
// them up after retry.max_attempts or retry.max_record_age.
func (d *dispatcher) requeue(r *request, now time.Time) {
	set := &d.k.set
	retried := 0
	age := int64(now.Sub(d.start)) - int64(set.maxRecordAge)
	reason := r.code
	if r.err != nil {
		reason = r.err.Error()
	} else if r.msg != "" {
		reason += ": " + r.msg
	}
	var giveUp []entry
	for _, e := range r.entries {
		e.attempts++
		if (set.maxAttempts > 0 && e.attempts >= set.maxAttempts) || (set.maxRecordAge > 0 && e.at < age) {
			giveUp = append(giveUp, e)
			continue
		}
		d.q.pushRetry(d.laneOf(&e), e)
		retried++
	}
	d.k.stats.retries.Add(int64(retried))
	if len(giveUp) > 0 {
		d.giveUp(giveUp, reason, now, &d.k.stats.dropped)
	}
}

// giveUp ends the delivery of entries: written to the dead-letter file
// (and counted as DeadLettered) when there is one, else dropped and counted
// in counter. Either way they are acknowledged, so they no longer hold
// back the checkpoint. If the dead-letter file cannot be written they are
// queued again instead: nothing is dropped because a disk failed.
func (d *dispatcher) giveUp(es []entry, reason string, now time.Time, counter *atomicCounter) {
	k := d.k
	if k.dead != nil {
		recs := make([]DeadRecord, 0, len(es))
		for i := range es {
			e := &es[i]
			for p := range e.users {
				recs = append(recs, DeadRecord{
					Time: now, Destination: k.name, Stream: k.set.stream, PartitionKey: p.key,
					ExplicitHashKey: p.hash, Data: p.data, Error: reason, Attempts: e.attempts,
				})
			}
		}
		if err := k.dead.Write(recs); err != nil {
			if ok, n := d.logs.allow(logNeedsOperator, now); ok {
				k.log.Error("cannot write the dead-letter file; keeping the records and retrying", "err", err, "records", len(recs), "more_since_last_log", n)
			}
			for _, e := range es {
				d.q.pushRetry(d.laneOf(&e), e)
			}
			return
		}
		k.stats.deadLettered.Add(int64(len(recs)))
		if ok, n := d.logs.allow(logDropped, now); ok {
			k.log.Warn("records given up and written to the dead-letter file", "records", len(recs), "file", k.set.deadLetter, "reason", reason, "more_since_last_log", n)
		}
	} else {
		users := 0
		for i := range es {
			users += es[i].records()
		}
		counter.Add(int64(users))
		if ok, n := d.logs.allow(logDropped, now); ok {
			k.log.Error("records given up and dropped (set dead_letter_file to keep them)", "records", users, "reason", reason, "more_since_last_log", n)
		}
	}
	var acks acker
	for i := range es {
		for u := range es[i].users {
			acks.add(u.ack)
		}
	}
	acks.flush()
}

func (d *dispatcher) logRequestError(err error, f failure, records int, now time.Time) {
	kind, level, msg := logRequestError, slog.LevelWarn, "request failed, retrying"
	switch f {
	case failThrottled:
		kind, msg = logThrottled, "request throttled, backing off"
	case failRefused:
		kind, level, msg = logNeedsOperator, slog.LevelError,
			"request refused; retrying at max backoff until fixed (nothing is dropped)"
	}
	if ok, n := d.logs.allow(kind, now); ok {
		d.k.log.Log(context.Background(), level, msg,
			"err", err, "records", records, "failed_waves", d.failures, "more_since_last_log", n)
	}
}

func (d *dispatcher) logEntryErrors(r *request, now time.Time) {
	kind, level, msg := logEntryError, slog.LevelWarn, "entries failed, retrying them"
	switch {
	case r.refused > 0:
		kind, level, msg = logNeedsOperator, slog.LevelError,
			"entries refused; retrying at max backoff until fixed (nothing is dropped)"
	case r.throttled == len(r.entries):
		kind, msg = logThrottled, "entries throttled, backing off"
	}
	if ok, n := d.logs.allow(kind, now); ok {
		d.k.log.Log(context.Background(), level, msg,
			"failed", len(r.entries), "stored", r.stored, "throttled", r.throttled,
			"code", r.code, "message", r.msg, "more_since_last_log", n)
	}
}
