// Package sink owns the destinations: it batches records, sends them, retries
// only what failed, and acknowledges each record exactly when the service has
// stored it.
package sink

import (
	"context"
	"errors"

	"github.com/kinetail/kinetail/internal/ack"
)

// Record is one unit of data for a destination.
type Record struct {
	Data []byte
	// PartitionKey is used as is when set; otherwise the sink derives one
	// according to its partition_key mode.
	PartitionKey string
	// ExplicitHashKey, a decimal 128-bit number, picks the shard instead of
	// the partition key's hash when set.
	ExplicitHashKey string
	// Ack is told Done(1) once the destination has stored the record (or,
	// with a dead-letter policy, once it is written there).
	Ack *ack.Group
}

// Batch is the unit passed from a flow to a sink. The sink owns the batch
// (and the memory its records point into) once sent.
type Batch struct {
	Records []Record
	Bytes   int // sum of len(Data)
	// Free, when set, is called by the sink with Records once it no longer
	// refers to the slice (it may still refer to each record's Data), so
	// the sender can use it for a later batch.
	Free func([]Record)
}

// done gives b.Records back to its sender, if it asked for it.
func (b *Batch) done() {
	if b.Free != nil {
		b.Free(b.Records)
		b.Records = nil
	}
}

// Sink is a destination. Run consumes batches until in is closed, delivers
// everything it accepted, and returns nil; or returns ctx.Err() if ctx is
// cancelled first (records not yet stored are then left unacknowledged, so
// they are resent after restart). Run is called once.
type Sink interface {
	Run(ctx context.Context, in <-chan Batch) error
}

// ErrStreamNotFound is wrapped by a sink's Check when its stream does not
// exist.
var ErrStreamNotFound = errors.New("not found")
