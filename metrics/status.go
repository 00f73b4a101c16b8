package metrics

import (
	"fmt"
	"time"
)

// Status is a snapshot of the agent, as /status serves it in JSON. The
// agent fills it from its stages' counters; Problems and rates are worked
// out here.
type Status struct {
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	Time    time.Time `json:"time"`
	// Healthy is false when a flow stopped or the last checkpoint save
	// failed; Problems says why.
	Healthy      bool          `json:"healthy"`
	Problems     []string      `json:"problems,omitempty"`
	Checkpoint   Checkpoint    `json:"checkpoint"`
	Flows        []Flow        `json:"flows"`
	Destinations []Destination `json:"destinations"`
}

// Checkpoint is the state of the checkpoint file's saves.
type Checkpoint struct {
	File string `json:"file"`
	// LastSaved is when the file was last known to be current (a save
	// that wrote it or found nothing new); zero before the first save.
	LastSaved    time.Time `json:"last_saved"`
	LastError    string    `json:"last_error,omitempty"` // of the last save; empty if it worked
	SaveFailures int64     `json:"save_failures"`
	Saves        int64     `json:"saves"` // saves that wrote the file
}

// Flow is one flow's counters since start and its lag.
type Flow struct {
	Name    string `json:"name"`
	Running bool   `json:"running"`

	// Read by the tailer.
	LinesRead    int64 `json:"lines_read"` // records, for a multiline flow
	BytesRead    int64 `json:"bytes_read"`
	Truncated    int64 `json:"lines_truncated"`
	PartialLines int64 `json:"partial_lines"`
	// Records made of more than one line (multiline flows).
	MultilineRecords int64 `json:"multiline_records"`
	Rotations        int64 `json:"rotations"`
	Truncations      int64 `json:"truncations"`
	OpenErrors       int64 `json:"open_errors"`
	ScanErrors       int64 `json:"scan_errors"`
	ReadErrors       int64 `json:"read_errors"`
	// What is known to be lost or skipped: bytes written between a
	// copytruncate's copy and its truncation, bytes of files closed by
	// close_removed_after before they were drained, generations (and
	// their bytes) that were found nowhere.
	CopyTruncateLostBytes int64 `json:"copytruncate_lost_bytes"`
	ClosedUnreadBytes     int64 `json:"closed_unread_bytes"`
	GenerationsLost       int64 `json:"generations_lost"`
	LostBytes             int64 `json:"lost_bytes"`
	// Generations read from another file than they were read from last,
	// or written and rotated while the agent was down.
	GenerationsRecovered int64 `json:"generations_recovered"`
	GenerationsMissed    int64 `json:"generations_missed"`

	// Made by the transforms.
	Records  uint64 `json:"records"`
	Filtered uint64 `json:"filtered"`
	Header   uint64 `json:"header_lines"`
	// Lines a transform rejected, by what their on_error policy did.
	InvalidDropped uint64 `json:"invalid_dropped"`
	InvalidPassed  uint64 `json:"invalid_passed"`
	InvalidWrapped uint64 `json:"invalid_wrapped"`

	FilesOpen int64 `json:"files_open"` // descriptors held
	FilesIdle int64 `json:"files_idle"` // followed, descriptor released until the file changes

	// BytesBehind is what the followed files hold beyond their
	// acknowledged offsets; MaxFileBytesBehind the largest of one file.
	// BytesInFlight is read and not yet acknowledged. Oldest is when the
	// oldest record not yet acknowledged was read (zero: none).
	BytesBehind        int64     `json:"bytes_behind"`
	MaxFileBytesBehind int64     `json:"max_file_bytes_behind"`
	BytesInFlight      int64     `json:"bytes_in_flight"`
	OldestUnacked      time.Time `json:"oldest_unacked,omitzero"`

	Files []File `json:"files,omitempty"`
}

// File states.
const (
	FileReading  = "reading"  // a reader follows it
	FileWaiting  = "waiting"  // no reader now; its rest is read when found or reopened
	FileFinished = "finished" // read to its end and let go (rotated away), or lost
)

// File is one generation of a followed file.
type File struct {
	Path        string `json:"path"`
	Offset      int64  `json:"offset"` // acknowledged
	Size        int64  `json:"size"`   // -1 when the file is gone or replaced
	BytesBehind int64  `json:"bytes_behind"`
	State       string `json:"state"`
}

// Destination is one running sink's counters: one per destination, or per
// stream of a templated destination.
type Destination struct {
	Name   string `json:"name"`
	Type   string `json:"type"` // kinesis | firehose | file | stdout
	Stream string `json:"stream,omitempty"`
	// Template marks the entry of a templated destination itself (Stream
	// is its template): it counts only records no stream could be named
	// for; each stream it started has its own entry.
	Template bool `json:"template,omitempty"`

	Requests           int64 `json:"requests"`
	RequestErrors      int64 `json:"request_errors"`       // calls that failed as a whole
	RecordSendAttempts int64 `json:"record_send_attempts"` // service records in calls, retries included
	RecordsSent        int64 `json:"records_sent"`         // user records stored
	ServiceRecordsSent int64 `json:"service_records_sent"` // records stored: an aggregate counts once
	BytesSent          int64 `json:"bytes_sent"`
	FailedEntries      int64 `json:"failed_entries"` // entries answered with an error code
	Throttles          int64 `json:"throttles"`      // throttled entries and calls
	Retries            int64 `json:"retries"`        // entries queued again
	PayloadUnits       int64 `json:"payload_units"`  // 25 KiB PUT payload units
	Aggregates         int64 `json:"aggregates"`
	AggregatedRecords  int64 `json:"aggregated_records"`
	// Given up: too large to send, out of retries, no stream could be
	// named (templated destination without fallback), written to the
	// dead-letter file.
	RejectedTooLarge int64 `json:"rejected_too_large"`
	DroppedRetries   int64 `json:"dropped_retries"`
	DroppedNoStream  int64 `json:"dropped_no_stream"`
	// Records of a templated destination whose stream name was refused:
	// outside its allowed patterns, or new while max_streams names were
	// in use. They went to the fallback (counted in DroppedNoStream too
	// without one).
	StreamNotAllowed int64     `json:"stream_not_allowed,omitempty"`
	StreamOverLimit  int64     `json:"stream_over_limit,omitempty"`
	DeadLettered     int64     `json:"dead_lettered"`
	WriteErrors      int64     `json:"write_errors"` // file and stdout destinations
	Queued           int64     `json:"queued"`
	RequestsInFlight int64     `json:"requests_in_flight"`
	Shards           int64     `json:"shards"`
	LastError        string    `json:"last_error,omitempty"`
	LastErrorTime    time.Time `json:"last_error_time,omitzero"`

	// Over the last minute (or since start): user records stored per
	// second, and the share of send attempts that failed.
	RecordsPerSecond float64 `json:"records_per_second"`
	ErrorRate        float64 `json:"error_rate"`
}

// Key identifies the destination's series.
func (d *Destination) Key() string { return d.Name + "\x00" + d.Stream }

// Check sets Healthy and Problems: every flow must run and the last
// checkpoint save must have worked.
func (s *Status) Check() {
	s.Problems = s.Problems[:0]
	for _, f := range s.Flows {
		if !f.Running {
			s.Problems = append(s.Problems, fmt.Sprintf("flow %q is not running", f.Name))
		}
	}
	if e := s.Checkpoint.LastError; e != "" {
		s.Problems = append(s.Problems, "last checkpoint save failed: "+e)
	}
	if len(s.Problems) == 0 {
		s.Problems = nil
	}
	s.Healthy = len(s.Problems) == 0
}
