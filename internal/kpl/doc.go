// Package kpl encodes and decodes Kinesis records in the KPL aggregated
// format: many small user records packed into one Kinesis record, so that a
// producer pays for one PUT payload unit and one record of the shard's
// per-second limit instead of one per user record.
//
// An aggregated record is the 4 magic bytes F3 89 9A C2, a protobuf
// (proto2) AggregatedRecord message, and the 16-byte MD5 digest of that
// message:
//
//	message AggregatedRecord {
//	  repeated string partition_key_table = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records = 3;
//	}
//	message Tag { required string key = 1; optional string value = 2; }
//	message Record {
//	  required uint64 partition_key_index = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes data = 3;
//	  repeated Tag tags = 4;
//	}
//
// The package owns the encoding only; deciding what goes into which
// aggregate is the sink's job.
//
// Every user record of an aggregate built here carries the outer Kinesis
// record's partition key (and explicit hash key, if one is set): the
// partition key table has exactly one entry, and every inner record points
// at it. A consumer such as the KCL, which drops inner records whose key
// would map to another shard than the one the aggregate landed on, so never
// drops one of ours.
//
// The message is written by hand with protowire, without generated code
// or reflection, and sizes are computed exactly without encoding, so a
// caller can pack aggregates up to a byte limit. A Builder allocates
// nothing per record once its buffer has grown to the size it needs. A
// Builder is not safe for concurrent use.
package kpl
