package kinesistest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Limits of Firehose that the fault server enforces.
const (
	maxPutRecordBatchEntries = 500
	maxPutRecordBatchBytes   = 4 << 20 // data of one request
	maxFirehoseRecordData    = 1000 << 10
	maxDeliveryStreamName    = 64
	maxListDeliveryStreams   = 10000
)

// firehoseState is what the fault server keeps for Firehose. It is guarded
// by FaultServer.mu.
type firehoseState struct {
	stored []StoredRecord
	seq    uint64
}

// FirehoseStored returns a copy of the records stored by PutRecordBatch, in
// arrival order. Stream is the delivery stream's name; PartitionKey is
// empty and Seq holds the record id the answer gave.
func (s *FaultServer) FirehoseStored() []StoredRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.fh.stored)
}

func faultDeliveryStreamARN(name string) string {
	return "arn:aws:firehose:" + faultRegion + ":" + faultAccount + ":deliverystream/" + name
}

// serveFirehose answers one Firehose_20150804 operation. Outages, injected
// 500s and latency have been applied by serveHTTP.
func (s *FaultServer) serveFirehose(w http.ResponseWriter, op string, body []byte) {
	switch op {
	case "PutRecordBatch":
		s.putRecordBatch(w, body)
	case "DescribeDeliveryStream":
		s.describeDeliveryStream(w, body)
	case "ListDeliveryStreams":
		s.listDeliveryStreams(w, body)
	default:
		faultError(w, http.StatusBadRequest, "UnknownOperationException", "operation %s is not supported by the fault server", op)
	}
}

// decodeFirehose parses the request body and checks that the delivery
// stream exists; on failure it has answered the request and returns false.
// Callers hold no lock.
func (s *FaultServer) decodeFirehose(w http.ResponseWriter, body []byte, v any, name *string) bool {
	if err := json.Unmarshal(body, v); err != nil {
		faultError(w, http.StatusBadRequest, "SerializationException", "cannot decode request: %v", err)
		return false
	}
	if msg := validDeliveryStreamName(*name); msg != "" {
		faultError(w, http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value '%s' at 'deliveryStreamName' failed to satisfy constraint: %s", *name, msg)
		return false
	}
	s.mu.Lock()
	known := s.known(*name)
	s.mu.Unlock()
	if !known {
		faultError(w, http.StatusBadRequest, "ResourceNotFoundException",
			"Firehose %s under account %s not found.", *name, faultAccount)
		return false
	}
	return true
}

// validDeliveryStreamName checks a name against the API's constraints.
func validDeliveryStreamName(name string) string {
	if len(name) < 1 || len(name) > maxDeliveryStreamName {
		return fmt.Sprintf("Member must have length between 1 and %d", maxDeliveryStreamName)
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
		}
	}
	return ""
}

type putRecordBatchInput struct {
	DeliveryStreamName string `json:"DeliveryStreamName"`
	Records            []struct {
		Data *[]byte `json:"Data"` // nil when absent: the service requires it
	} `json:"Records"`
}

type putRecordBatchResultEntry struct {
	RecordID     string `json:"RecordId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

type putRecordBatchOutput struct {
	FailedPutCount   int                         `json:"FailedPutCount"`
	Encrypted        bool                        `json:"Encrypted"`
	RequestResponses []putRecordBatchResultEntry `json:"RequestResponses"`
}

func (s *FaultServer) putRecordBatch(w http.ResponseWriter, body []byte) {
	var in putRecordBatchInput
	if !s.decodeFirehose(w, body, &in, &in.DeliveryStreamName) {
		return
	}
	if n := len(in.Records); n < 1 || n > maxPutRecordBatchEntries {
		faultError(w, http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and %d (got %d)",
			maxPutRecordBatchEntries, n)
		return
	}
	size := 0
	for i, r := range in.Records {
		switch {
		case r.Data == nil:
			faultError(w, http.StatusBadRequest, "ValidationException",
				"1 validation error detected: Value null at 'records.%d.member.data' failed to satisfy constraint: Member must not be null", i+1)
			return
		case len(*r.Data) > maxFirehoseRecordData:
			faultError(w, http.StatusBadRequest, "ValidationException",
				"1 validation error detected: Value at 'records.%d.member.data' failed to satisfy constraint: Member must have length less than or equal to %d",
				i+1, maxFirehoseRecordData)
			return
		}
		size += len(*r.Data)
	}
	if size > maxPutRecordBatchBytes {
		faultError(w, http.StatusBadRequest, "InvalidArgumentException", "Records size %d exceeds 4 MB limit", size)
		return
	}

	stream := in.DeliveryStreamName
	out := putRecordBatchOutput{RequestResponses: make([]putRecordBatchResultEntry, len(in.Records))}
	s.mu.Lock()
	s.counts.Entries += len(in.Records)
	s.counts.MaxBatchRecords = max(s.counts.MaxBatchRecords, len(in.Records))
	s.counts.MaxBatchBytes = max(s.counts.MaxBatchBytes, size)
	for i, r := range in.Records {
		if s.opts.FailEntryRate > 0 && s.rng.Float64() < s.opts.FailEntryRate {
			s.counts.FailedEntries++
			out.FailedPutCount++
			out.RequestResponses[i] = putRecordBatchResultEntry{ErrorCode: "ServiceUnavailableException", ErrorMessage: "Slow down."}
			continue
		}
		s.fh.seq++
		id := fmt.Sprintf("fhrec%051d", s.fh.seq)
		s.fh.stored = append(s.fh.stored, StoredRecord{Stream: stream, Data: *r.Data, Seq: id})
		out.RequestResponses[i] = putRecordBatchResultEntry{RecordID: id}
	}
	s.mu.Unlock()
	faultJSON(w, http.StatusOK, out)
}

func (s *FaultServer) describeDeliveryStream(w http.ResponseWriter, body []byte) {
	var in struct {
		DeliveryStreamName string `json:"DeliveryStreamName"`
	}
	if !s.decodeFirehose(w, body, &in, &in.DeliveryStreamName) {
		return
	}
	name := in.DeliveryStreamName
	created := faultEpoch(s.created(name))
	faultJSON(w, http.StatusOK, map[string]any{
		"DeliveryStreamDescription": map[string]any{
			"DeliveryStreamName":   name,
			"DeliveryStreamARN":    faultDeliveryStreamARN(name),
			"DeliveryStreamStatus": "ACTIVE",
			"DeliveryStreamType":   "DirectPut",
			"VersionId":            "1",
			"CreateTimestamp":      created,
			"LastUpdateTimestamp":  created,
			"DeliveryStreamEncryptionConfiguration": map[string]any{
				"Status": "DISABLED",
			},
			"Destinations":        []any{map[string]any{"DestinationId": "destinationId-000000000001"}},
			"HasMoreDestinations": false,
		},
	})
}

func (s *FaultServer) listDeliveryStreams(w http.ResponseWriter, body []byte) {
	var in struct {
		Limit                            *int   `json:"Limit"`
		ExclusiveStartDeliveryStreamName string `json:"ExclusiveStartDeliveryStreamName"`
		DeliveryStreamType               string `json:"DeliveryStreamType"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		faultError(w, http.StatusBadRequest, "SerializationException", "cannot decode request: %v", err)
		return
	}
	limit := 10 // the service's default
	if in.Limit != nil {
		limit = *in.Limit
	}
	if limit < 1 || limit > maxListDeliveryStreams {
		faultError(w, http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d",
			limit, maxListDeliveryStreams)
		return
	}
	names := []string{}
	if in.DeliveryStreamType == "" || in.DeliveryStreamType == "DirectPut" {
		s.mu.Lock()
		for name := range s.streams {
			if strings.Compare(name, in.ExclusiveStartDeliveryStreamName) > 0 {
				names = append(names, name)
			}
		}
		s.mu.Unlock()
	}
	slices.Sort(names)
	more := len(names) > limit
	if more {
		names = names[:limit]
	}
	faultJSON(w, http.StatusOK, map[string]any{"DeliveryStreamNames": names, "HasMoreDeliveryStreams": more})
}
