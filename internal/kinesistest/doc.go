// Package kinesistest provides Kinesis servers for tests.
//
// Start and StartServer run kinesis-local (kinesis-mock), a real Kinesis API
// implementation pinned in test/kinesis/package.json, as a child process on
// free ports bound to 127.0.0.1 only. Tests give each case its own stream
// (the mock slows down as a shard fills) and read records back with
// GetRecords through ReadAll. The Node dependencies are not installed by the
// tests: `npm ci --prefix test/kinesis` does that (make test runs it).
//
// The package also has an in-process fault-injection server that speaks the
// Kinesis JSON protocol and its CBOR form (decoded by the package's own CBOR
// code, which shares nothing with the sink's), over HTTP or TLS with or
// without HTTP/2, for failures the real server cannot produce.
//
// A Server owns its child process: the process runs in its own process group,
// and Close, or the end of the context it was started with, kills the whole
// group, so no server outlives the test binary that started it.
package kinesistest
