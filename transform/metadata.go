package transform

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/kinetail/kinetail/config"
)

// tsLayout is the Kinesis Agent's ADDMETADATA timestamp: UTC with
// milliseconds and a literal Z (Java's "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").
const tsLayout = "2006-01-02T15:04:05.000Z"

// addMetadata wraps each record the way the Kinesis Agent's ADDMETADATA
// processor does:
//
//	{"ts":"2024-05-06T07:08:09.123Z","metadata":{"env":"prod"},"data":"<record>"}
//
// The fields come in that order. "ts" is the time the record was made, in
// UTC with milliseconds, and only present with timestamp: true. "metadata"
// holds the configured values, any JSON values (strings, numbers, booleans,
// null, lists and objects, as in the agent), with the keys of every object
// in sorted order (the agent keeps its config file's order; Go maps have
// none, so sorting makes the output stable); it is null when no metadata is
// configured, as in the agent. "data" is always the input as a JSON string,
// even when it is itself JSON: the agent does the same, and consumers of
// its records expect a string.
//
// Everything but the timestamp and the data is encoded once, so a record
// costs two appends, a time format and one string escape, with no
// allocation once dst has grown.
type addMetadata struct {
	timestamp bool
	now       func() time.Time // the clock; a test seam
	head      []byte           // `{"ts":"` or `{`
	tail      []byte           // `","metadata":{…},"data":` or `"metadata":…,"data":`
}

func newAddMetadata(c *config.AddMetadata) (*addMetadata, error) {
	p := &addMetadata{timestamp: c.Timestamp, now: time.Now}
	if p.timestamp {
		p.head = []byte(`{"ts":"`)
		p.tail = []byte(`",`)
	} else {
		p.head = []byte(`{`)
	}
	p.tail = append(p.tail, `"metadata":`...)
	if c.Metadata == nil {
		p.tail = append(p.tail, "null"...)
	} else {
		var err error
		if p.tail, err = appendJSONValue(p.tail, c.Metadata); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
	}
	p.tail = append(p.tail, `,"data":`...)
	return p, nil
}

// appendJSONValue appends v, a value of config.AddMetadata's Metadata, as
// JSON, with the keys of objects in sorted order.
func appendJSONValue(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case string:
		return AppendJSONString(dst, []byte(v)), nil
	case json.Number:
		// Valid JSON that starts and ends with a digit or starts with
		// '-' is a number, with nothing around it.
		if v == "" || !json.Valid([]byte(v)) || !isDigit(v[len(v)-1]) || v[0] != '-' && !isDigit(v[0]) {
			return nil, fmt.Errorf("%q is not a JSON number", string(v))
		}
		return append(dst, v...), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSONValue(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		dst = append(dst, '{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, []byte(k))
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSONValue(dst, v[k]); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("a %T is not a JSON value", v)
}

// appendStringObject appends m as a JSON object with keys in sorted order,
// or null when m is nil.
func appendStringObject(dst []byte, m map[string]string) []byte {
	if m == nil {
		return append(dst, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, []byte(k))
		dst = append(dst, ':')
		dst = AppendJSONString(dst, []byte(m[k]))
	}
	return append(dst, '}')
}

func (p *addMetadata) Append(dst, in []byte) ([]byte, error) {
	dst = append(dst, p.head...)
	if p.timestamp {
		dst = p.now().UTC().AppendFormat(dst, tsLayout)
	}
	dst = append(dst, p.tail...)
	dst = AppendJSONString(dst, in)
	return append(dst, '}'), nil
}
