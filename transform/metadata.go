package transform

import (
	"slices"
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
// holds the configured values with keys in sorted order (the agent keeps
// its config file's order; Go maps have none, so sorting makes the output
// stable), and is null when no metadata is configured, as in the agent.
// "data" is always the input as a JSON string, even when it is itself JSON:
// the agent does the same, and consumers of its records expect a string.
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

func newAddMetadata(c *config.AddMetadata) *addMetadata {
	p := &addMetadata{timestamp: c.Timestamp, now: time.Now}
	if p.timestamp {
		p.head = []byte(`{"ts":"`)
		p.tail = []byte(`",`)
	} else {
		p.head = []byte(`{`)
	}
	p.tail = append(p.tail, `"metadata":`...)
	p.tail = appendStringObject(p.tail, c.Metadata)
	p.tail = append(p.tail, `,"data":`...)
	return p
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
