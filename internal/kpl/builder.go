package kpl

import (
	"crypto/md5"

	"google.golang.org/protobuf/encoding/protowire"
)

// Lengths of the parts that frame the protobuf message.
const (
	MagicLen  = 4
	DigestLen = md5.Size
)

// magic starts every aggregated record.
var magic = [MagicLen]byte{0xF3, 0x89, 0x9A, 0xC2}

// Field keys (tag bytes) of the messages. All field numbers are below 16,
// so every key is one byte.
const (
	keyPartitionKeyTable    = byte(1<<3 | protowire.BytesType)  // AggregatedRecord.partition_key_table
	keyExplicitHashKeyTable = byte(2<<3 | protowire.BytesType)  // AggregatedRecord.explicit_hash_key_table
	keyRecords              = byte(3<<3 | protowire.BytesType)  // AggregatedRecord.records
	keyPartitionKeyIndex    = byte(1<<3 | protowire.VarintType) // Record.partition_key_index
	keyExplicitHashKeyIndex = byte(2<<3 | protowire.VarintType) // Record.explicit_hash_key_index
	keyData                 = byte(3<<3 | protowire.BytesType)  // Record.data
)

// Builder assembles one aggregated record. The zero value is ready after
// Reset. Reusing one Builder for many aggregates keeps its buffer, so
// adding records allocates nothing once the buffer is large enough.
type Builder struct {
	partitionKey    string
	explicitHashKey string
	n               int
	// records holds the encoded records field (key, length, Record
	// message) of every record added, in order. AppendTo writes the key
	// tables in front of it, as the KPL does, so the buffer never needs
	// to move.
	records []byte
}

// Reset empties the builder and sets the keys every record added from now
// on will carry. An empty explicitHashKey means none. The buffer's capacity
// is kept. The keys are not validated: Kinesis requires a partition key of
// 1 to 256 characters and an explicit hash key that is a decimal integer
// below 2^128, and the caller that sends the record checks them.
func (b *Builder) Reset(partitionKey, explicitHashKey string) {
	b.partitionKey = partitionKey
	b.explicitHashKey = explicitHashKey
	b.n = 0
	b.records = b.records[:0]
}

// Len returns the number of user records added since Reset.
func (b *Builder) Len() int { return b.n }

// Size returns the exact length of what AppendTo would write now.
func (b *Builder) Size() int {
	return MagicLen + b.tablesSize() + len(b.records) + DigestLen
}

// SizeWith returns the exact length AppendTo would write if one more record
// of dataLen bytes were added.
func (b *Builder) SizeWith(dataLen int) int {
	return b.Size() + RecordOverhead(dataLen, b.explicitHashKey != "")
}

// Add appends a user record. data is copied, so the caller may reuse it.
func (b *Builder) Add(data []byte) {
	hashKey := b.explicitHashKey != ""
	buf := append(b.records, keyRecords)
	buf = protowire.AppendVarint(buf, uint64(recordSize(len(data), hashKey)))
	// proto2 required: the index is written although it is the default 0.
	buf = append(buf, keyPartitionKeyIndex, 0)
	if hashKey {
		buf = append(buf, keyExplicitHashKeyIndex, 0)
	}
	buf = append(buf, keyData)
	buf = protowire.AppendVarint(buf, uint64(len(data)))
	b.records = append(buf, data...)
	b.n++
}

// AppendTo appends the aggregated record (magic, protobuf message, MD5 of
// the message) to dst and returns the extended slice. It does not reset
// the builder. If dst has Size() bytes of spare capacity, AppendTo
// allocates nothing.
func (b *Builder) AppendTo(dst []byte) []byte {
	dst = append(dst, magic[:]...)
	start := len(dst)
	dst = append(dst, keyPartitionKeyTable)
	dst = protowire.AppendString(dst, b.partitionKey)
	if b.explicitHashKey != "" {
		dst = append(dst, keyExplicitHashKeyTable)
		dst = protowire.AppendString(dst, b.explicitHashKey)
	}
	dst = append(dst, b.records...)
	sum := md5.Sum(dst[start:])
	return append(dst, sum[:]...)
}

// tablesSize is the encoded size of the partition key table and, if set,
// the explicit hash key table, one entry each.
func (b *Builder) tablesSize() int {
	n := 1 + protowire.SizeBytes(len(b.partitionKey))
	if b.explicitHashKey != "" {
		n += 1 + protowire.SizeBytes(len(b.explicitHashKey))
	}
	return n
}

// RecordOverhead returns the number of bytes one user record of dataLen
// bytes adds to an aggregate, data included: the records field's key and
// length, and the Record message with its indexes and data. withHashKey
// says whether the aggregate has an explicit hash key, which adds the
// explicit_hash_key_index field to every record.
func RecordOverhead(dataLen int, withHashKey bool) int {
	return 1 + protowire.SizeBytes(recordSize(dataLen, withHashKey))
}

// recordSize is the length of one encoded Record message.
func recordSize(dataLen int, withHashKey bool) int {
	n := 2 + 1 + protowire.SizeBytes(dataLen) // partition_key_index, data
	if withHashKey {
		n += 2 // explicit_hash_key_index
	}
	return n
}
