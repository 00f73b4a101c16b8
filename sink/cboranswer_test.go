// Tests of reading CBOR answers: statuses, malformed input, allocations,
// fuzzing.

package sink

import (
	"reflect"
	"testing"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// cbor encodes v with the test server's encoder (definite lengths, keys
// sorted).
func cbor(v any) []byte { return kinesistest.AppendCBOR(nil, v) }

type obj = map[string]any

var (
	cborOK        = obj{"SequenceNumber": "49590338271490256608559692538361571095921575989136588898", "ShardId": "shardId-000000000000"}
	cborThrottled = obj{"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream s under account 123456789012."}
	// kinesis-local writes null for the absent members of a stored entry.
	cborOKNulls = obj{"ErrorCode": nil, "ErrorMessage": nil, "SequenceNumber": "1", "ShardId": "shardId-000000000000"}
)

// Hand-written CBOR that the encoder above does not produce.
const (
	// {_ "FailedRecordCount": 1, "Records": [_ {_ "ErrorCode": (_ "Internal", "Failure"), "ErrorMessage": "m"}, {}]}
	cborIndefiniteAnswer = "\xbf" + "\x71FailedRecordCount" + "\x01" + "\x67Records" + "\x9f" +
		"\xbf" + "\x69ErrorCode" + "\x7f\x68Internal\x67Failure\xff" + "\x6cErrorMessage" + "\x61m" + "\xff" +
		"\xa0" + "\xff" + "\xff"
	// Members the reader skips: a tagged time, floats of every size, a
	// negative number, simple values, bytes, nested containers of both
	// kinds; FailedRecordCount with a two-byte head.
	cborOddMembers = "\xa5" +
		"\x6eEncryptionType" + "\xc1\x1a\x65\x53\xf1\x00" +
		"\x61n" + "\x82\xf9\x3c\x00\xfa\x3f\x80\x00\x00" +
		"\x65Other" + "\x9f\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00\x38\x63\xf4\xf5\xf7\x5f\x41\x00\xff\xbf\x61a\x80\xff\xff" +
		"\x71FailedRecordCount" + "\x19\x00\x01" +
		"\x67Records" + "\x81\xa3" + "\x65Extra" + "\xd8\x20\x63url" + "\x69ErrorCode" + "\x76LimitExceededException" + "\x6cErrorMessage" + "\xf6"
)

func TestPutAnswerParseCBOR(t *testing.T) {
	kinesisJSON := kinesisProtocol(false)
	S, T, R, F := noFailure, failThrottled, failTransient, failRefused
	tests := []struct {
		name      string
		body      []byte
		want      []failure
		code, msg string
	}{
		{"all stored", cbor(obj{"FailedRecordCount": 0, "Records": []any{cborOK, cborOK}, "EncryptionType": "NONE"}),
			[]failure{S, S}, "", ""},
		{"partial failures", cbor(obj{"FailedRecordCount": 3, "Records": []any{
			cborOK, cborThrottled, obj{"ErrorCode": "InternalFailure", "ErrorMessage": "oops"}, cborOKNulls,
			obj{"ErrorCode": "KMSAccessDeniedException", "ErrorMessage": "denied"},
		}}), []failure{S, T, R, S, F}, "ProvisionedThroughputExceededException", cborThrottled["ErrorMessage"].(string)},
		{"throttling codes", cbor(obj{"FailedRecordCount": 3, "Records": []any{
			obj{"ErrorCode": "KMSThrottlingException"}, obj{"ErrorCode": "LimitExceededException"}, cborThrottled,
		}}), []failure{T, T, T}, "KMSThrottlingException", ""},
		{"null members are absent", cbor(obj{"FailedRecordCount": 0, "Records": []any{cborOKNulls}}), []failure{S}, "", ""},
		{"an unknown code needs the operator", cbor(obj{"FailedRecordCount": 1, "Records": []any{obj{"ErrorCode": "NewException"}}}),
			[]failure{F}, "NewException", ""},
		{"indefinite lengths and chunked text", []byte(cborIndefiniteAnswer), []failure{R, S}, "InternalFailure", "m"},
		{"odd members are skipped", []byte(cborOddMembers), []failure{T}, "LimitExceededException", ""},
		{"no records", cbor(obj{"FailedRecordCount": 0, "Records": []any{}}), []failure{}, "", ""},
	}
	var a putAnswer // reused, as a worker does
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := kinesistest.DecodeCBOR(tt.body); err != nil {
				t.Fatalf("test body is not CBOR: %v", err)
			}
			if err := a.parse(kinesisJSON, tt.body); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(a.status, tt.want) && len(a.status)+len(tt.want) > 0 {
				t.Errorf("statuses %v, want %v", a.status, tt.want)
			}
			if a.code != tt.code || a.msg != tt.msg {
				t.Errorf("first failure (%q, %q), want (%q, %q)", a.code, a.msg, tt.code, tt.msg)
			}
		})
	}
}

func TestPutAnswerParseCBORRejectsMalformed(t *testing.T) {
	kinesisJSON := kinesisProtocol(false)
	good := cbor(obj{"FailedRecordCount": 0, "Records": []any{cborOK}})
	deep := []byte{0xa2, 0x71}
	deep = append(deep, "FailedRecordCount\x00\x65Other"...)
	for range 100 {
		deep = append(deep, 0x81)
	}
	deep = append(deep, 0x00)
	for name, body := range map[string][]byte{
		"truncated":                   good[:len(good)-1],
		"trailing bytes":              append(append([]byte{}, good...), 0),
		"a map too long for the body": []byte("\xbb\xff\xff\xff\xff\xff\xff\xff\xff"),
		"a string too long":           []byte("\xa1\x7a\xff\xff\xff\xff"),
		"a reserved head":             []byte("\xa1\x1c"),
		"an indefinite integer":       []byte("\xa1\x61x\x1f"),
		"a lone break":                []byte("\xa1\x61x\xff"),
		"nested too deep":             deep,
		"records not an array":        cbor(obj{"FailedRecordCount": 0, "Records": obj{}}),
		"an entry not a map":          cbor(obj{"FailedRecordCount": 0, "Records": []any{"x"}}),
		"a code not text":             cbor(obj{"FailedRecordCount": 1, "Records": []any{obj{"ErrorCode": 1}}}),
		"a bad chunk":                 []byte("\xa2\x71FailedRecordCount\x00\x67Records\x81\xa1\x69ErrorCode\x7f\x41x\xff"),
		"a negative count":            cbor(obj{"FailedRecordCount": -1, "Records": []any{}}),
		"a count in text":             cbor(obj{"FailedRecordCount": "0", "Records": []any{}}),
		"no count":                    cbor(obj{"Records": []any{}}),
		"a count too high":            cbor(obj{"FailedRecordCount": 1, "Records": []any{cborOK}}),
		"a count too low":             cbor(obj{"FailedRecordCount": 0, "Records": []any{cborThrottled}}),
	} {
		var a putAnswer
		if err := a.parse(kinesisJSON, body); err == nil {
			t.Errorf("%s: parse(%x) succeeded with %v, want an error", name, body, a.status)
		}
	}
}

func TestParseErrorAnswerCBOR(t *testing.T) {
	tests := []struct {
		name, header string
		body         []byte
		code, msg    string
	}{
		{"type and message", "", cbor(obj{"__type": "ResourceNotFoundException", "message": "Stream s not found."}),
			"ResourceNotFoundException", "Stream s not found."},
		{"a namespaced type, Message capitalised", "", cbor(obj{"__type": "com.amazonaws.kinesis.v20131202#AccessDeniedException", "Message": "no"}),
			"AccessDeniedException", "no"},
		{"the header wins", "ExpiredTokenException:http://internal.amazon.com/", cbor(obj{"__type": "Other", "message": "old"}),
			"ExpiredTokenException", "old"},
		{"a code member and other members", "", cbor(obj{"x": []any{1, obj{"y": 2.5}}, "Code": "ThrottlingException", "message": nil}),
			"ThrottlingException", ""},
		{"indefinite map", "", []byte("\xbf\x66__type\x6fInternalFailure\xff"), "InternalFailure", ""},
		{"a truncated body keeps what was read", "", cbor(obj{"__type": "InternalFailure", "message": "cut"})[:30], "InternalFailure", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := parseErrorAnswer(tt.header, tt.body)
			if code != tt.code || msg != tt.msg {
				t.Errorf("parseErrorAnswer = (%q, %q), want (%q, %q)", code, msg, tt.code, tt.msg)
			}
		})
	}
}

func TestPutAnswerParseCBORAllocations(t *testing.T) {
	kinesisJSON := kinesisProtocol(false)
	all, mixed := make([]any, 500), make([]any, 500)
	for i := range all {
		all[i], mixed[i] = cborOKNulls, cborOK
		if i%2 == 0 {
			mixed[i] = cborThrottled
		}
	}
	tests := []struct {
		name      string
		body      []byte
		maxAllocs float64
	}{
		{"500 stored entries", cbor(obj{"FailedRecordCount": 0, "Records": all, "EncryptionType": "NONE"}), 0},
		// The first failure's code and message become strings, for the log.
		{"250 failed entries", cbor(obj{"FailedRecordCount": 250, "Records": mixed, "EncryptionType": "NONE"}), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a putAnswer
			if err := a.parse(kinesisJSON, tt.body); err != nil || len(a.status) != 500 {
				t.Fatalf("parse: %v, %d statuses", err, len(a.status))
			}
			allocs := testing.AllocsPerRun(20, func() {
				if err := a.parse(kinesisJSON, tt.body); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > tt.maxAllocs {
				t.Errorf("parse allocates %.0f times, want at most %.0f", allocs, tt.maxAllocs)
			}
		})
	}
}

// FuzzPutAnswerCBOR feeds arbitrary bytes to the CBOR reader: it must never
// panic, and whenever it accepts an answer that the test server's decoder
// also reads, both must agree on which entries failed.
func FuzzPutAnswerCBOR(f *testing.F) {
	kinesisJSON := kinesisProtocol(false)
	f.Add(cbor(obj{"FailedRecordCount": 1, "Records": []any{cborOK, cborThrottled}, "EncryptionType": "NONE"}))
	f.Add(cbor(obj{"FailedRecordCount": 0, "Records": []any{cborOKNulls}}))
	f.Add([]byte(cborIndefiniteAnswer))
	f.Add([]byte(cborOddMembers))
	f.Add(cbor(obj{"__type": "InternalFailure", "message": "x"}))
	f.Fuzz(func(t *testing.T, body []byte) {
		var a putAnswer
		err := a.parse(kinesisJSON, body)
		parseErrorAnswer("", body)
		if err != nil || !isCBOR(body) {
			return
		}
		v, derr := kinesistest.DecodeCBOR(body)
		if derr != nil {
			return // the reader is lenient where the decoder is not (duplicate keys, tags, UTF-8)
		}
		recs, _ := v.(map[string]any)["Records"].([]any)
		if len(recs) != len(a.status) {
			t.Fatalf("%d statuses for %d records in %x", len(a.status), len(recs), body)
		}
		for i, r := range recs {
			m, _ := r.(map[string]any)
			code, failed := m["ErrorCode"]
			failed = failed && code != nil
			if failed != (a.status[i] != noFailure) {
				t.Fatalf("entry %d: status %v, the decoder sees ErrorCode %v in %x", i, a.status[i], code, body)
			}
		}
	})
}

func BenchmarkPutAnswerParseCBOR(b *testing.B) {
	kinesisJSON := kinesisProtocol(false)
	recs := make([]any, 500)
	for i := range recs {
		recs[i] = cborOK
	}
	data := cbor(obj{"FailedRecordCount": 0, "Records": recs, "EncryptionType": "NONE"})
	var a putAnswer
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := a.parse(kinesisJSON, data); err != nil {
			b.Fatal(err)
		}
	}
}
