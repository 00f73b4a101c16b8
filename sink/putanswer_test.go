// Tests of reading JSON answers: statuses, malformed input, allocations,
// fuzzing.

package sink

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const (
	okEntry        = `{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000000"}`
	throttledEntry = `{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard shardId-000000000000 in stream s under account 123456789012."}`
)

func TestPutAnswerParse(t *testing.T) {
	kinesisJSON := kinesisProtocol(false)
	S, T, R, F := noFailure, failThrottled, failTransient, failRefused
	tests := []struct {
		name      string
		body      string
		want      []failure
		code, msg string
	}{
		{"all stored", `{"FailedRecordCount":0,"Records":[` + okEntry + `,` + okEntry + `],"EncryptionType":"NONE"}`,
			[]failure{S, S}, "", ""},
		{"mixed failures", `{"FailedRecordCount":3,"Records":[` + okEntry + `,` + throttledEntry + `,` +
			`{"ErrorCode":"InternalFailure","ErrorMessage":"oops"},` + okEntry + `,` +
			`{"ErrorCode":"KMSAccessDeniedException","ErrorMessage":"denied"}]}`,
			[]failure{S, T, R, S, F}, "ProvisionedThroughputExceededException",
			"Rate exceeded for shard shardId-000000000000 in stream s under account 123456789012."},
		{"an unknown code needs the operator", `{"FailedRecordCount":1,"Records":[{"ErrorCode":"NewException","ErrorMessage":null}]}`,
			[]failure{F}, "NewException", ""},
		{"an empty code is a failure", `{"FailedRecordCount":1,"Records":[{"ErrorCode":""}]}`,
			[]failure{F}, "", ""},
		{"null members are absent", `{"FailedRecordCount":0,"Records":[{"ErrorCode":null,"ErrorMessage":null,"SequenceNumber":"1"}]}`,
			[]failure{S}, "", ""},
		{"escaped strings are decoded", `{"Failed\u0052ecordCount":1,"Records":[{"Error\u0043ode":"Provisioned\u0054hroughputExceededException","ErrorMessage":"tab\tquote\" \u00e9 \ud83c\udf89 \ud800 \/"}]}`,
			[]failure{T}, "ProvisionedThroughputExceededException", "tab\tquote\" é 🎉 \uFFFD /"},
		{"escaped values that are skipped", `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"a\"b\\","ShardId":"\u0041"}]}`,
			[]failure{S}, "", ""},
		{"members in any order, unknown ones skipped", `{"EncryptionType":"KMS","Unknown":{"a":[1,2,{"b":"]}"}],"c":null},"Records":[` +
			`{"ShardId":"s","Extra":[true,false,null,-1.5e3],"ErrorMessage":"m","ErrorCode":"LimitExceededException","SequenceNumber":"1"}` +
			`],"More":[[]],"FailedRecordCount":1}`,
			[]failure{T}, "LimitExceededException", "m"},
		{"white space everywhere", " \n{ \"FailedRecordCount\" :\t1 ,\r\n \"Records\" : [ { \"ErrorCode\" : \"InternalFailure\" } , { } ] } \n",
			[]failure{R, S}, "InternalFailure", ""},
		{"no records", `{"FailedRecordCount":0,"Records":[]}`, []failure{}, "", ""},
	}
	var a putAnswer // reused, as a worker does
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid([]byte(tt.body)) {
				t.Fatalf("test body is not JSON: %s", tt.body)
			}
			if err := a.parse(kinesisJSON, []byte(tt.body)); err != nil {
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

func TestPutAnswerParseRejectsMalformed(t *testing.T) {
	kinesisJSON := kinesisProtocol(false)
	for _, body := range []string{
		``,
		`null`,
		`[]`,
		`{"FailedRecordCount":0,"Records":[` + okEntry,
		`{"FailedRecordCount":0,"Records":[` + okEntry + `]`,
		`{"FailedRecordCount":0,"Records":[` + okEntry + `]}}`,
		`{"FailedRecordCount":0,"Records":[` + okEntry + `]} x`,
		`{"FailedRecordCount":0,"Records":{}}`,
		`{"FailedRecordCount":0,"Records":["x"]}`,
		`{"FailedRecordCount":0,"Records":[null]}`,
		`{"FailedRecordCount":"0","Records":[]}`,
		`{"FailedRecordCount":-1,"Records":[]}`,
		`{"FailedRecordCount":99999999999999999999,"Records":[]}`,
		`{"Records":[]}`,
		`{"FailedRecordCount":0,"Records":[{"ErrorCode":1}]}`,
		`{"FailedRecordCount":0,"Records":[{"ErrorCode":"bad\escape"}]}`,
		`{"FailedRecordCount":0,"Records":[{"ErrorCode":"\u12"}]}`,
		`{"FailedRecordCount":0,"Records":[{"ErrorCode":"unterminated}]}`,
		`{"FailedRecordCount":0,"Records":[{"ShardId" "s"}]}`,
		`{"FailedRecordCount":0,"Records":[{"ShardId":"s",}]}`,
		`{"FailedRecordCount":0,"Records":[{"Extra":tru}]}`,
		`{"FailedRecordCount":0,"Records":[{"Extra":{"a":[1,2}]}`,
		`{"FailedRecordCount":0 "Records":[]}`,
		// Counts that disagree with the entries: which ones failed is uncertain.
		`{"FailedRecordCount":1,"Records":[` + okEntry + `]}`,
		`{"FailedRecordCount":0,"Records":[` + throttledEntry + `]}`,
	} {
		var a putAnswer
		if err := a.parse(kinesisJSON, []byte(body)); err == nil {
			t.Errorf("parse(%s) succeeded with %v, want an error", body, a.status)
		}
	}
}

func TestPutAnswerParseAllocations(t *testing.T) {
	kinesisJSON := kinesisProtocol(false)
	var all, mixed strings.Builder
	all.WriteString(`{"FailedRecordCount":0,"Records":[`)
	mixed.WriteString(`{"FailedRecordCount":250,"Records":[`)
	for i := range 500 {
		if i > 0 {
			all.WriteByte(',')
			mixed.WriteByte(',')
		}
		all.WriteString(okEntry)
		if i%2 == 0 {
			mixed.WriteString(throttledEntry)
		} else {
			mixed.WriteString(okEntry)
		}
	}
	all.WriteString(`],"EncryptionType":"NONE"}`)
	mixed.WriteString(`],"EncryptionType":"NONE"}`)
	tests := []struct {
		name      string
		body      []byte
		maxAllocs float64
	}{
		{"500 stored entries", []byte(all.String()), 0},
		// The first failure's code and message become strings, for the log.
		{"250 failed entries", []byte(mixed.String()), 2},
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

func TestParseErrorAnswer(t *testing.T) {
	tests := []struct {
		name, header, body string
		code, msg          string
	}{
		{"type and message", "", `{"__type":"ResourceNotFoundException","message":"Stream s under account 1 not found."}`,
			"ResourceNotFoundException", "Stream s under account 1 not found."},
		{"a namespaced type", "", `{"__type":"com.amazonaws.kinesis.v20131202#AccessDeniedException","Message":"no"}`,
			"AccessDeniedException", "no"},
		{"the header wins", "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/",
			`{"__type":"Other","message":"The security token included in the request is invalid."}`,
			"UnrecognizedClientException", "The security token included in the request is invalid."},
		{"a code member", "", `{"code":"ThrottlingException","message":"slow"}`, "ThrottlingException", "slow"},
		{"escapes and other members", "", `{"x":[1,{"y":2}],"__type":"KMS\u0054hrottlingException","message":"a\nb"}`,
			"KMSThrottlingException", "a\nb"},
		{"not JSON", "", `<html>502 Bad Gateway</html>`, "", ""},
		{"an empty body", "", ``, "", ""},
		{"a truncated body keeps what was read", "", `{"__type":"InternalFailure","message":"trunc`, "InternalFailure", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := parseErrorAnswer(tt.header, []byte(tt.body))
			if code != tt.code || msg != tt.msg {
				t.Errorf("parseErrorAnswer = (%q, %q), want (%q, %q)", code, msg, tt.code, tt.msg)
			}
		})
	}
}

// FuzzPutAnswer feeds arbitrary answers to the scanner: it must never
// panic, and whenever it accepts a document that encoding/json also
// accepts, both must agree on which entries failed.
func FuzzPutAnswer(f *testing.F) {
	kinesisJSON := kinesisProtocol(false)
	firehoseJSON := firehoseProtocol()
	f.Add(`{"FailedRecordCount":0,"Records":[` + okEntry + `]}`)
	f.Add(`{"FailedRecordCount":1,"Records":[` + okEntry + `,` + throttledEntry + `],"EncryptionType":"NONE"}`)
	f.Add(`{"Failed\u0052ecordCount":1,"Records":[{"ErrorCode":"\ud83c\udf89","ErrorMessage":"\u00e9\n"}]}`)
	f.Add(`{"X":{"a":[1,2,{"b":"]}"}]},"FailedRecordCount":0,"Records":[{}]}`)
	f.Add(`{"FailedRecordCount":0,"Records":[{"ErrorCode":null}]}`)
	f.Add(`{"__type":"InternalFailure","message":"x"}`)
	f.Add(`{"FailedPutCount":1,"Encrypted":false,"RequestResponses":[{"RecordId":"r"},{"ErrorCode":"ServiceUnavailableException","ErrorMessage":"Slow down."}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		var a putAnswer
		err := a.parse(kinesisJSON, []byte(body))
		parseErrorAnswer("", []byte(body))
		var fh putAnswer // the other shape must not panic either
		_ = fh.parse(firehoseJSON, []byte(body))
		if err != nil || !json.Valid([]byte(body)) {
			return
		}
		var doc struct {
			FailedRecordCount int
			Records           []map[string]any
		}
		if json.Unmarshal([]byte(body), &doc) != nil {
			return
		}
		var top map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &top) != nil || top["Records"] == nil || top["FailedRecordCount"] == nil {
			return // encoding/json matches member names regardless of case
		}
		if len(doc.Records) != len(a.status) {
			t.Fatalf("%d statuses for %d records in %s", len(a.status), len(doc.Records), body)
		}
		for i, rec := range doc.Records {
			code, failed := rec["ErrorCode"]
			failed = failed && code != nil
			if failed != (a.status[i] != noFailure) {
				t.Fatalf("entry %d: status %v, encoding/json sees ErrorCode %v in %s", i, a.status[i], code, body)
			}
			if s, ok := code.(string); ok && s != "" && a.code == "" {
				t.Fatalf("entry %d fails with %q but no first code was kept", i, s)
			}
		}
		if fmt.Sprint(doc.FailedRecordCount) != fmt.Sprint(a.failed) {
			t.Fatalf("FailedRecordCount %d, encoding/json sees %d", a.failed, doc.FailedRecordCount)
		}
	})
}

func BenchmarkPutAnswerParse(b *testing.B) {
	kinesisJSON := kinesisProtocol(false)
	var body strings.Builder
	body.WriteString(`{"FailedRecordCount":0,"Records":[`)
	for i := range 500 {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(okEntry)
	}
	body.WriteString(`],"EncryptionType":"NONE"}`)
	data := []byte(body.String())
	var a putAnswer
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := a.parse(kinesisJSON, data); err != nil {
			b.Fatal(err)
		}
	}
}
