package transform

// The keys of a wrapped record, {"raw":"<line>","error":"<reason>"}.
const (
	wrapRawKey   = "raw"
	wrapErrorKey = "error"
)

// wrap appends the record for line, which step i rejected with err under
// on_error: wrap, and returns the extended dst.
//
// The record starts as {"raw":"<line>","error":"<reason>"}, with the line
// as it is in the file, and then goes through the rest of the chain, from
// step i on, so that it carries what the chain adds to every record (a
// record id, the path and offset, metadata): consumers can then drop
// repeats of a bad line and find it in its file. Only the steps that
// annotate a record run on it; the others would read the wrapped object
// as the line they parse, or drop the one record that tells the operator a
// line could not be parsed:
//
//   - fields appends its added fields (add, host, path, offset,
//     record_id), the same values a valid line gets; rename, remove, keep
//     and types are not applied (they describe the parsed record, and keep
//     would remove raw and error), and an added field named raw or error
//     is left out.
//   - add_metadata, add_ec2_metadata and add_brackets run as on any
//     record.
//   - redact runs on the wrapped record, so the raw line is masked like any
//     string value. Redact steps before step i masked what the steps
//     before them made, not the line itself, so they are applied again to
//     the line before it is wrapped: a line that fails parsing must not
//     carry a secret the chain masks in valid lines.
//   - singleline, csv_to_json, json, log_to_json, regex, logfmt and filter
//     are skipped.
//
// Step i itself runs on the record too when it is one of those that
// annotate (fields or add_ec2_metadata rejecting a line that is not a JSON
// object). A step that rejects the wrapped record is skipped: the record
// goes on as it was, with the first error only, and is counted once. The
// record is always a JSON object, which those steps accept, so this is a
// safeguard rather than a path taken.
//
// The steps' outputs in the scratch buffers are no longer needed, so the
// record is built there: a wrapped line allocates nothing once the
// buffers have grown.
func (c *Chain) wrap(dst, line []byte, i int, err error) []byte {
	if se, ok := err.(*SyntaxError); ok {
		c.reason = se.appendTo(c.reason[:0])
	} else {
		c.reason = append(c.reason[:0], err.Error()...)
	}
	b := 0 // the scratch buffer written next; the other holds the current bytes
	raw := line
	for _, s := range c.steps[:i] {
		if r, ok := s.p.(*redact); ok {
			c.scratch[b], _ = r.Append(c.scratch[b][:0], raw) // redact accepts every input
			raw = c.scratch[b]
			b ^= 1
		}
	}
	last := -1
	for j := len(c.steps) - 1; j >= i; j-- {
		if c.steps[j].onWrapped != nil {
			last = j
			break
		}
	}
	if last < 0 {
		return appendWrapped(dst, raw, c.reason)
	}
	c.scratch[b] = appendWrapped(c.scratch[b][:0], raw, c.reason)
	rec := c.scratch[b]
	b ^= 1
	for j := i; j < last; j++ {
		p := c.steps[j].onWrapped
		if p == nil {
			continue
		}
		out, err := p.Append(c.scratch[b][:0], rec)
		if err != nil {
			continue
		}
		c.scratch[b] = out
		rec = out
		b ^= 1
	}
	out, err := c.steps[last].onWrapped.Append(dst, rec)
	if err != nil {
		return append(dst, rec...)
	}
	return out
}

// appendWrapped appends {"raw":raw,"error":reason} to dst.
func appendWrapped(dst, raw, reason []byte) []byte {
	dst = append(dst, `{"`+wrapRawKey+`":`...)
	dst = AppendJSONString(dst, raw)
	dst = append(dst, `,"`+wrapErrorKey+`":`...)
	dst = AppendJSONString(dst, reason)
	return append(dst, '}')
}
