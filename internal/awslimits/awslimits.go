// Package awslimits holds the limits of the AWS APIs kinetail calls: what
// one PutRecords (Kinesis Data Streams) or PutRecordBatch (Firehose) call
// and one record in it may hold. The sink obeys them and config refuses
// settings beyond them.
//
// The sink would be their natural owner, but it imports config, so config
// could not read them there without an import cycle: this leaf package,
// importing nothing, is the one place both read. Defaults that merely equal
// a limit (batch.max_records) are config's, defined from these.
package awslimits

// Kinesis Data Streams, PutRecords.
const (
	KinesisMaxRecords = 500 // entries of one call
	// KinesisMaxRequestBytes bounds the data and partition keys of one
	// call: 10 MiB on streams whose limit was raised, 5 MiB otherwise
	// (config's default).
	KinesisMaxRequestBytes = 10 << 20
	// KinesisMaxRecordBytes bounds one record's data and partition key,
	// on raised streams; 1 MiB otherwise (config's default).
	KinesisMaxRecordBytes       = 10 << 20
	KinesisMaxPartitionKeyRunes = 256      // Unicode characters; a longer key fails the whole call
	KinesisPayloadUnitBytes     = 25 << 10 // PUT payload units are billed per started 25 KiB of a record
)

// Firehose, PutRecordBatch. Records have no partition key.
const (
	FirehoseMaxRecords      = 500        // records of one call
	FirehoseMaxRequestBytes = 4 << 20    // data of one call
	FirehoseMaxRecordBytes  = 1000 << 10 // data of one record
)
