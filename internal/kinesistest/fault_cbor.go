package kinesistest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// The fault server speaks the Kinesis API in CBOR too: a request sent with
// Content-Type application/x-amz-cbor-1.1 is decoded with the package's own
// CBOR decoder and answered in CBOR, errors included, as the service does.
// PutRecords and PutRecord are checked strictly (blobs must be byte
// strings, names text, no unknown members), so an encoder that writes data
// as base64 text or misspells a member fails here; other operations are
// mapped to their JSON form and served as such.

// cborAnswers marks a request that came in CBOR: the handlers decode its
// body and write their answers through it.
type cborAnswers struct {
	http.ResponseWriter
}

// wantsCBOR reports whether w answers a CBOR request.
func wantsCBOR(w http.ResponseWriter) bool {
	_, ok := w.(cborAnswers)
	return ok
}

// writeCBOR answers v, a value faultJSON was given, in CBOR.
func writeCBOR(w http.ResponseWriter, status int, v any) {
	body := AppendCBOR(nil, cborValue(v))
	w.Header().Set("Content-Type", CBORContentType)
	w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may be gone
}

// cborValue turns an answer into values AppendCBOR writes: the frequent
// PutRecords answer directly, anything else through its JSON form.
func cborValue(v any) any {
	switch v := v.(type) {
	case putRecordsOutput:
		recs := make([]any, len(v.Records))
		for i, r := range v.Records {
			m := map[string]any{}
			if r.ErrorCode != "" {
				m["ErrorCode"], m["ErrorMessage"] = r.ErrorCode, r.ErrorMessage
			} else {
				m["SequenceNumber"], m["ShardId"] = r.SequenceNumber, r.ShardID
			}
			recs[i] = m
		}
		return map[string]any{
			"FailedRecordCount": v.FailedRecordCount,
			"Records":           recs,
			"EncryptionType":    v.EncryptionType,
		}
	case faultErrorBody:
		return map[string]any{"__type": v.Type, "message": v.Message}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("kinesistest: answer %T: %v", v, err))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var g any
	if err := dec.Decode(&g); err != nil {
		panic(fmt.Sprintf("kinesistest: answer %T: %v", v, err))
	}
	return fromJSON(g)
}

// fromJSON converts a decoded JSON value: numbers become integers when they
// are whole.
func fromJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = fromJSON(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = fromJSON(v[k])
		}
	}
	return v
}

// unmarshalCBOR decodes a CBOR request body into v, a pointer to one of
// the handlers' input types.
func unmarshalCBOR(body []byte, v any) error {
	g, err := DecodeCBOR(body)
	if err != nil {
		return err
	}
	m, ok := g.(map[string]any)
	if !ok {
		return fmt.Errorf("request is a %T, not a map", g)
	}
	switch v := v.(type) {
	case *putRecordsInput:
		return cborPutRecords(m, v)
	case *putRecordInput:
		if err := cborStreamRef(m, &v.faultStreamRef); err != nil {
			return err
		}
		return cborPutEntry(m, &v.putEntry, "StreamName", "StreamARN")
	}
	// Other operations have no blobs: their JSON form is the same values.
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func cborPutRecords(m map[string]any, in *putRecordsInput) error {
	if err := cborStreamRef(m, &in.faultStreamRef); err != nil {
		return err
	}
	for k := range m {
		if k != "StreamName" && k != "StreamARN" && k != "Records" {
			return fmt.Errorf("unknown member %q", k)
		}
	}
	recs, ok := m["Records"].([]any)
	if !ok {
		return fmt.Errorf("member Records is a %T, not an array", m["Records"])
	}
	in.Records = make([]putEntry, len(recs))
	for i, r := range recs {
		e, ok := r.(map[string]any)
		if !ok {
			return fmt.Errorf("member Records[%d] is a %T, not a map", i, r)
		}
		if err := cborPutEntry(e, &in.Records[i]); err != nil {
			return fmt.Errorf("member Records[%d]: %w", i, err)
		}
	}
	return nil
}

// cborStreamRef reads the stream's name or ARN, which must be text.
func cborStreamRef(m map[string]any, ref *faultStreamRef) error {
	for _, f := range []struct {
		key string
		p   *string
	}{{"StreamName", &ref.StreamName}, {"StreamARN", &ref.StreamARN}} {
		if v, ok := m[f.key]; ok {
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("%s is a %T, not a text string", f.key, v)
			}
			*f.p = s
		}
	}
	return nil
}

// cborPutEntry reads an entry's members; others than those and the
// allowed ones are errors.
func cborPutEntry(m map[string]any, e *putEntry, allowed ...string) error {
	for k, v := range m {
		switch k {
		case "Data":
			b, ok := v.([]byte)
			if !ok {
				return fmt.Errorf("member Data is a %T, not a byte string", v)
			}
			e.Data = b
		case "PartitionKey", "ExplicitHashKey":
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("%s is a %T, not a text string", k, v)
			}
			if k == "PartitionKey" {
				e.PartitionKey = s
			} else {
				e.ExplicitHashKey = s
			}
		default:
			if !slices.Contains(allowed, k) {
				return fmt.Errorf("unknown member %q", k)
			}
		}
	}
	if e.Data == nil {
		return fmt.Errorf("no Data")
	}
	return nil
}
