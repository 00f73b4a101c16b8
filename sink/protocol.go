// The protocol value: everything that differs between Kinesis PutRecords
// (in JSON or CBOR) and Firehose PutRecordBatch, chosen once per sink.

package sink

import (
	"strings"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/awslimits"
)

// Services a protocol talks to.
const (
	serviceKinesis  = "kinesis"
	serviceFirehose = "firehose"
)

// protocol is what differs between the put APIs a sink speaks: the body it
// writes, how it reads answers and failures, how records are sized and
// packed, and the service's limits. Kinesis PutRecords and Firehose
// PutRecordBatch are the same JSON 1.1 exchange under other names (and
// PutRecords also in CBOR); they differ in what some error codes mean. One
// is chosen when a sink is built (protocolOf) and never changes: the code
// that sends, reads and retries asks it instead of asking which service it
// talks to.
type protocol struct {
	service string // serviceKinesis or serviceFirehose: which SDK client, in newStream
	kind    string // the stream's kind, in messages
	// streamOf returns the name of d's stream, and whether it is an ARN
	// (sent as StreamARN).
	streamOf func(d *config.Destination) (name string, byARN bool)

	// The request.
	operation   string // the call, in messages
	target      string // the X-Amz-Target header
	signingName string // unless the endpoint rules name another
	contentType string
	// appendBody appends the body of a call for entries, sent to stream
	// (an ARN if byARN), and returns it. Entries without a partition key
	// get one from ks; packed entries are built by b.
	appendBody func(dst []byte, stream string, byARN bool, entries []entry, ks *keySource, b *builder) []byte
	// base64 is set when the body carries record data in base64 (JSON,
	// a third larger than the data), not as it is (CBOR).
	base64 bool

	// The answer, in JSON or CBOR whichever the request was: the names of
	// its count of failed entries and of its entries' array.
	countMember, recordsMember string
	// entryFailure is the failure of an entry answered with an error code.
	entryFailure func(code string) failure
	// classify is the failure of a whole call.
	classify func(err error) failure

	// keyed is set when records carry partition keys, which pick shards:
	// keys count against the limits, aggregates of keyed records go by
	// key, and the stream's shards can be listed (shard_aware).
	keyed bool
	// recordSuffix is what the packer adds to every user record
	// (Firehose's newline), counted when a record's size is checked.
	recordSuffix int
	// payloadUnit is the size of the units the service bills stored
	// records in (StreamStats.PayloadUnits); 0 when it bills otherwise.
	payloadUnit int
	// newPacker returns how new records are packed into service records,
	// or nil to send them as they are.
	newPacker func(aggregate bool, ks *keySource) packer

	// Limits: records per call; the defaults of batch.max_bytes,
	// batch.max_record_bytes and aggregation.max_bytes, and the most the
	// service takes.
	maxRecords                           int
	batchBytes, recordBytes, packedBytes int
	maxBatchBytes, maxRecordBytes        int
}

// protocolOf is the protocol of destination d, a kinesis or firehose one.
// Firehose speaks only JSON (newStream refuses cbor for it).
func protocolOf(d *config.Destination) *protocol {
	if d.Type == serviceFirehose {
		return firehoseProtocol()
	}
	return kinesisProtocol(d.Protocol == ProtocolCBOR)
}

// kinesisProtocol is PutRecords, in CBOR if cbor, else in JSON.
func kinesisProtocol(cbor bool) *protocol {
	p := &protocol{
		service: serviceKinesis,
		kind:    "kinesis stream",
		streamOf: func(d *config.Destination) (string, bool) {
			return d.Stream, strings.HasPrefix(d.Stream, "arn:")
		},
		operation:     "PutRecords",
		target:        "Kinesis_20131202.PutRecords",
		signingName:   "kinesis",
		contentType:   jsonContentType,
		appendBody:    appendPutRecordsBody,
		base64:        true,
		countMember:   "FailedRecordCount",
		recordsMember: "Records",
		entryFailure:  kinesisEntryFailure,
		classify:      classify,
		keyed:         true,
		payloadUnit:   awslimits.KinesisPayloadUnitBytes,
		newPacker: func(aggregate bool, ks *keySource) packer {
			if aggregate {
				return &kplPacker{ks: ks}
			}
			return nil
		},
		maxRecords:     awslimits.KinesisMaxRecords,
		batchBytes:     int(config.DefaultBatchMaxBytes),
		recordBytes:    int(config.DefaultBatchMaxRecordBytes),
		packedBytes:    int(config.DefaultAggregationMaxBytes),
		maxBatchBytes:  awslimits.KinesisMaxRequestBytes,
		maxRecordBytes: awslimits.KinesisMaxRecordBytes,
	}
	if cbor {
		p.contentType, p.appendBody, p.base64 = cborContentType, appendPutRecordsCBOR, false
	}
	return p
}

// firehoseProtocol is PutRecordBatch (see firehose_proto.go).
func firehoseProtocol() *protocol {
	return &protocol{
		service:     serviceFirehose,
		kind:        "firehose delivery stream",
		streamOf:    func(d *config.Destination) (string, bool) { return d.DeliveryStream, false },
		operation:   "PutRecordBatch",
		target:      firehoseTarget,
		signingName: "firehose",
		contentType: jsonContentType,
		appendBody: func(dst []byte, stream string, _ bool, entries []entry, _ *keySource, b *builder) []byte {
			return appendPutRecordBatchBody(dst, stream, entries, b)
		},
		base64:        true,
		countMember:   "FailedPutCount",
		recordsMember: "RequestResponses",
		entryFailure:  firehoseEntryFailure,
		classify:      classifyFirehose,
		recordSuffix:  1, // the newline
		newPacker: func(aggregate bool, _ *keySource) packer {
			return &linePacker{aggregate: aggregate}
		},
		maxRecords:     awslimits.FirehoseMaxRecords,
		batchBytes:     awslimits.FirehoseMaxRequestBytes,
		recordBytes:    awslimits.FirehoseMaxRecordBytes,
		packedBytes:    awslimits.FirehoseMaxRecordBytes, // then at most batch.max_record_bytes
		maxBatchBytes:  awslimits.FirehoseMaxRequestBytes,
		maxRecordBytes: awslimits.FirehoseMaxRecordBytes,
	}
}

// bodyBytes is about what n bytes of record data take in a body.
func (p *protocol) bodyBytes(n int64) int64 {
	if p.base64 {
		return (n + 2) / 3 * 4
	}
	return n
}
