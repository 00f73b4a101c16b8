package benchaccept

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

const (
	jsonContentType = "application/x-amz-json-1.1"
	cborContentType = "application/x-amz-cbor-1.1"
	throttledCode   = "ProvisionedThroughputExceededException"
)

// appendPutAnswer appends the answer to a PutRecords call of n entries:
// entry i was refused (throttled) if refused[i], stored otherwise (refused
// may be empty: all stored); failed is the number refused. The stored
// entries get the sequence numbers after seq, in order.
func appendPutAnswer(b []byte, cbor bool, n int, refused []bool, failed int, seq uint64, message string) []byte {
	if cbor {
		b = appendCBORHead(b, cborMap, 2)
		b = appendCBORText(b, "FailedRecordCount")
		b = appendCBORHead(b, cborUint, uint64(failed))
		b = appendCBORText(b, "Records")
		b = appendCBORHead(b, cborArray, uint64(n))
		for i := range n {
			b = appendCBORHead(b, cborMap, 2)
			if len(refused) > 0 && refused[i] {
				b = appendCBORText(b, "ErrorCode")
				b = appendCBORText(b, throttledCode)
				b = appendCBORText(b, "ErrorMessage")
				b = appendCBORText(b, message)
				continue
			}
			seq++
			b = appendCBORText(b, "SequenceNumber")
			b = appendCBORHead(b, cborText, uint64(len(seqPrefix)+20))
			b = appendPadded(append(b, seqPrefix...), seq)
			b = appendCBORText(b, "ShardId")
			b = appendCBORText(b, shardID)
		}
		return b
	}
	b = append(b, `{"FailedRecordCount":`...)
	b = strconv.AppendInt(b, int64(failed), 10)
	b = append(b, `,"Records":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		if len(refused) > 0 && refused[i] {
			b = append(b, `{"ErrorCode":"`+throttledCode+`","ErrorMessage":"`...)
			b = append(b, message...) // no characters to escape: see Acceptor.throttleMessage
			b = append(b, `"}`...)
			continue
		}
		seq++
		b = append(b, `{"SequenceNumber":"`+seqPrefix...)
		b = appendPadded(b, seq)
		b = append(b, `","ShardId":"`+shardID+`"}`...)
	}
	return append(b, "]}"...)
}

func writeAnswer(w http.ResponseWriter, cbor bool, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{jsonContentType}
	if cbor {
		h["Content-Type"] = []string{cborContentType}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.Write(body)
}

// writeError answers with an error as the service does: its type in a
// header and in the body's __type.
func writeError(w http.ResponseWriter, cbor bool, status int, typ, msg string) {
	var b []byte
	if cbor {
		b = appendCBORValue(nil, map[string]any{"__type": typ, "message": msg})
		w.Header().Set("Content-Type", cborContentType)
	} else {
		b, _ = json.Marshal(struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}{typ, msg})
		w.Header().Set("Content-Type", jsonContentType)
	}
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	w.Write(b)
}

// cannedAnswers are the bodies of the describe calls, which never change:
// [0] in JSON, [1] in CBOR.
type cannedAnswers struct {
	summary, stream, shards [2][]byte
}

func makeCannedAnswers(name string) cannedAnswers {
	created := time.Now().Truncate(time.Second)
	// ts is the creation time as each protocol writes timestamps: epoch
	// seconds, a number in JSON and a tagged number in CBOR.
	build := func(ts any) (summary, stream, shards map[string]any) {
		shard := map[string]any{
			"ShardId":             shardID,
			"HashKeyRange":        map[string]string{"StartingHashKey": "0", "EndingHashKey": "340282366920938463463374607431768211455"},
			"SequenceNumberRange": map[string]string{"StartingSequenceNumber": seqPrefix + "00000000000000000000"},
		}
		common := map[string]any{
			"StreamName":              name,
			"StreamARN":               "arn:aws:kinesis:us-east-1:000000000000:stream/" + name,
			"StreamStatus":            "ACTIVE",
			"StreamModeDetails":       map[string]string{"StreamMode": "PROVISIONED"},
			"RetentionPeriodHours":    24,
			"StreamCreationTimestamp": ts,
			"EnhancedMonitoring":      []any{map[string]any{"ShardLevelMetrics": []string{}}},
			"EncryptionType":          "NONE",
		}
		sum := map[string]any{"OpenShardCount": 1, "ConsumerCount": 0}
		str := map[string]any{"Shards": []any{shard}, "HasMoreShards": false}
		for k, v := range common {
			sum[k] = v
			str[k] = v
		}
		return map[string]any{"StreamDescriptionSummary": sum},
			map[string]any{"StreamDescription": str},
			map[string]any{"Shards": []any{shard}}
	}
	var c cannedAnswers
	js, jt, jl := build(created.Unix())
	cs, ct, cl := build(created)
	c.summary = [2][]byte{mustJSON(js), appendCBORValue(nil, cs)}
	c.stream = [2][]byte{mustJSON(jt), appendCBORValue(nil, ct)}
	c.shards = [2][]byte{mustJSON(jl), appendCBORValue(nil, cl)}
	return c
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed maps of strings and numbers above
	}
	return b
}

// cborStreamName returns the StreamName (or else StreamARN) of a CBOR
// request body; an empty body or one that names neither gives "".
func cborStreamName(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	d := &cborDecoder{b: b}
	major, arg, indef, err := d.head()
	if err != nil || major != cborMap {
		return "", errCBOR
	}
	n, err := d.container(major, arg, indef)
	if err != nil {
		return "", err
	}
	var name, arn string
	for {
		ok, err := d.more(&n, indef)
		if err != nil {
			return "", err
		}
		if !ok {
			break
		}
		key, _, err := d.text(nil)
		if err != nil {
			return "", err
		}
		if ok, err := d.more(&n, indef); err != nil || !ok {
			return "", errCBOR
		}
		switch string(key) {
		case "StreamName", "StreamARN":
			v, _, err := d.text(nil)
			if err != nil {
				return "", err
			}
			if string(key) == "StreamName" {
				name = string(v)
			} else {
				arn = string(v)
			}
		default:
			if err := d.skip(1); err != nil {
				return "", err
			}
		}
	}
	if d.i != len(b) {
		return "", errCBOR
	}
	if name != "" {
		return name, nil
	}
	return arn, nil
}
