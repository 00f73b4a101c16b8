// Deaggregates KPL aggregated Kinesis records with aws-kinesis-agg, the
// decoder awslabs publishes, to check kinetail's aggregates against an
// implementation that is not ours.
//
//   node test/kinesis/deagg.js [--require-aggregated] < records.jsonl
//
// Input: one JSON object per line, a Kinesis record as GetRecords returns it:
//   {"data":"<base64>","partitionKey":"...","explicitHashKey":"..."}
// (explicitHashKey and sequenceNumber are optional).
// Output: one JSON object per user record, in order:
//   {"record":N,"subSequenceNumber":M,"partitionKey":"...","explicitHashKey":"...","data":"<base64>"}
// where N is the 0-based input line and M the user record's index inside
// it. explicitHashKey is left out when the user record has none.
//
// Checksums are always verified. A record that is not aggregated is passed
// through as the library does (without subSequenceNumber), unless
// --require-aggregated is given, which makes it an error. Any error (bad
// JSON, bad base64, bad checksum, malformed protobuf) is reported on stderr
// and the exit status is 1; nothing after the failing line is read.
'use strict';

const path = require('path');
const readline = require('readline');
const agg = require(path.join(__dirname, 'node_modules', 'aws-kinesis-agg'));

const MAGIC = Buffer.from('f3899ac2', 'hex');
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const args = process.argv.slice(2);
const requireAggregated = args.includes('--require-aggregated');
for (const a of args) {
  if (a !== '--require-aggregated') {
    process.stderr.write(`deagg.js: unknown argument ${a}\n`);
    process.exit(2);
  }
}

// deaggregate turns one input line into its output lines, or throws.
function deaggregate(line, n) {
  const rec = JSON.parse(line);
  if (rec === null || typeof rec !== 'object' || typeof rec.data !== 'string') {
    throw new Error('want an object with a base64 "data" string');
  }
  if (!BASE64.test(rec.data)) {
    throw new Error('"data" is not valid base64');
  }
  const aggregated = Buffer.from(rec.data, 'base64').subarray(0, MAGIC.length).equals(MAGIC);
  if (requireAggregated && !aggregated) {
    throw new Error('record is not aggregated (no KPL magic bytes)');
  }
  let failure = null;
  let users = [];
  // deaggregateSync runs to completion before it returns. It may call back
  // more than once (an error for a user record, then the end): keep the
  // first error.
  agg.deaggregateSync({
    data: rec.data,
    partitionKey: rec.partitionKey,
    explicitPartitionKey: rec.explicitHashKey,
    sequenceNumber: rec.sequenceNumber,
  }, true, (err, records) => {
    if (err) {
      failure = failure || err;
    } else if (records) {
      users = records;
    }
  });
  if (failure) {
    throw failure instanceof Error ? failure : new Error(String(failure));
  }
  return users.map((u) => JSON.stringify({
    record: n,
    subSequenceNumber: u.subSequenceNumber,
    partitionKey: u.partitionKey,
    explicitHashKey: u.explicitPartitionKey,
    data: u.data,
  }));
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let n = 0;
let failed = false;
rl.on('line', (line) => {
  if (failed) {
    return;
  }
  const lineNo = n++;
  if (line.trim() === '') {
    return;
  }
  let out;
  try {
    out = deaggregate(line, lineNo);
  } catch (e) {
    failed = true;
    process.exitCode = 1;
    process.stderr.write(`deagg.js: line ${lineNo + 1}: ${e && e.message ? e.message : e}\n`);
    rl.close();
    return;
  }
  for (const o of out) {
    process.stdout.write(o + '\n');
  }
});
