// Tests of the protocol a destination gets, and the settings its limits
// give.

package sink

import (
	"testing"

	"github.com/kinetail/kinetail/config"
)

func TestSettingsPerProtocol(t *testing.T) {
	type want struct {
		operation, contentType string
		stream                 string
		byARN, shardAware      bool
		maxBytes, maxRecord    int
		maxPacked              int
	}
	kinesisDefaults := want{"PutRecords", jsonContentType, "s", false, false, 5 << 20, 1 << 20, 51200}
	tests := []struct {
		name string
		d    config.Destination
		want want
	}{
		{"kinesis defaults", config.Destination{Type: "kinesis", Stream: "s"}, kinesisDefaults},
		{"a kinesis stream by ARN", config.Destination{Type: "kinesis", Stream: "arn:aws:kinesis:us-east-1:1:stream/s"},
			want{"PutRecords", jsonContentType, "arn:aws:kinesis:us-east-1:1:stream/s", true, false, 5 << 20, 1 << 20, 51200}},
		{"kinesis in cbor", config.Destination{Type: "kinesis", Stream: "s", Protocol: ProtocolCBOR},
			want{"PutRecords", cborContentType, "s", false, false, 5 << 20, 1 << 20, 51200}},
		{"kinesis limits raised", config.Destination{Type: "kinesis", Stream: "s", ShardAware: config.ShardAware{Enabled: true},
			Batch: config.Batch{MaxBytes: 10 << 20, MaxRecordBytes: 10 << 20}, Aggregation: config.Aggregation{MaxBytes: 1 << 20}},
			want{"PutRecords", jsonContentType, "s", false, true, 10 << 20, 10 << 20, 1 << 20}},
		{"an aggregate is at most a record", config.Destination{Type: "kinesis", Stream: "s",
			Batch: config.Batch{MaxRecordBytes: 10000}, Aggregation: config.Aggregation{MaxBytes: 51200}},
			want{"PutRecords", jsonContentType, "s", false, false, 5 << 20, 10000, 10000}},
		{"firehose defaults", config.Destination{Type: "firehose", DeliveryStream: "d"},
			want{"PutRecordBatch", jsonContentType, "d", false, false, 4 << 20, 1000 << 10, 1000 << 10}},
		{"firehose is capped at its service's limits, has no shards and speaks json", config.Destination{Type: "firehose",
			DeliveryStream: "arn:d", Stream: "ignored", Protocol: ProtocolCBOR, ShardAware: config.ShardAware{Enabled: true},
			Batch: config.Batch{MaxBytes: 8 << 20, MaxRecordBytes: 2 << 20}},
			want{"PutRecordBatch", jsonContentType, "arn:d", false, false, 4 << 20, 1000 << 10, 1000 << 10}},
		{"firehose packs up to its records' limit", config.Destination{Type: "firehose", DeliveryStream: "d",
			Batch: config.Batch{MaxRecordBytes: 100 << 10}},
			want{"PutRecordBatch", jsonContentType, "d", false, false, 4 << 20, 100 << 10, 100 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSettings(&tt.d, "")
			got := want{s.proto.operation, s.proto.contentType, s.stream, s.streamARN, s.shardAware, s.maxBytes, s.maxRecordBytes, s.maxPacked}
			if got != tt.want {
				t.Errorf("settings\n %+v\nwant\n %+v", got, tt.want)
			}
			if s.maxRecords != 500 {
				t.Errorf("max records %d, want 500", s.maxRecords)
			}
		})
	}
}
