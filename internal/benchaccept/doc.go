// Package benchaccept is a fast stand-in for the Kinesis service, for
// benchmarks of the whole agent.
//
// An Acceptor listens on 127.0.0.1, answers the few calls a producer makes
// (DescribeStreamSummary, DescribeStream, ListShards, PutRecords), stores
// nothing, and counts what it was sent. Every PutRecords entry succeeds.
//
// It runs on the same machine as the agent it measures, so it must cost
// little: PutRecords bodies are not decoded as JSON but scanned for the
// "Data" and "PartitionKey" strings, data sizes come from the base64 length,
// buffers are pooled and responses are built by appending bytes. Data is
// decoded only when Options.CountLines asks for user records to be counted.
package benchaccept
