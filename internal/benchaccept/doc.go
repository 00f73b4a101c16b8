// Package benchaccept is a fast stand-in for the Kinesis service, for
// benchmarks of the whole agent.
//
// An Acceptor listens on 127.0.0.1, answers the few calls a producer makes
// (DescribeStreamSummary, DescribeStream, ListShards, PutRecords) in the
// protocol they came in, JSON 1.1 or CBOR 1.1 (by Content-Type), stores
// nothing, and counts what it was sent: records, user records (lines, or
// the inner records of KPL aggregates), bytes, PUT payload units and,
// optionally, distinct user records, so duplicates are told from new ones.
//
// Faults for benchmarks of memory under pressure: SetDown makes the
// endpoint unreachable (connections reset) until it is set up again, and
// SetThrottle refuses a share of PutRecords entries with
// ProvisionedThroughputExceededException, as a partial failure. Only what
// was stored is counted.
//
// It runs on the same machine as the agent it measures, so it must cost
// little: PutRecords bodies are not decoded into values but scanned, the
// JSON ones for the "Data" and "PartitionKey" strings (data sizes come from
// the base64 length), the CBOR ones with a small decoder that walks the
// items in place; buffers are pooled and answers are built by appending
// bytes. Data is decoded only when Options.CountLines asks for user
// records to be counted.
package benchaccept
