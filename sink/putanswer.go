// Reading put answers and error answers in JSON: per-entry failures, without
// building values.

package sink

import (
	"bytes"
	"errors"
	"strings"

	"github.com/kinetail/kinetail/transform"
)

// putAnswer is what a PutRecords or PutRecordBatch answer says. It is
// reused from one call to the next, so reading an answer allocates nothing
// unless entries failed.
type putAnswer struct {
	// status has one element per record of the answer, in order:
	// noFailure for a stored one.
	status []failure
	// failed is the answer's FailedRecordCount (FailedPutCount).
	failed int
	// code and msg are those of the first failed entry, for the log.
	code, msg string

	scratch []byte // unescaped strings
	// codes remembers the last few distinct error codes, so that a code
	// repeated in every failed entry becomes a string only once.
	codes    [4]codeStatus
	nextCode int
	proto    *protocol // the protocol codes were classified for
	// byCode counts the failed entries by error code (few distinct).
	byCode []EntryCode
}

type codeStatus struct {
	code string
	st   failure
}

func (a *putAnswer) reset() {
	a.status = a.status[:0]
	a.failed = 0
	a.code, a.msg = "", ""
	a.byCode = a.byCode[:0]
}

// tally counts one entry failed with code, of kind f.
func (a *putAnswer) tally(code string, f failure) {
	for i := range a.byCode {
		if a.byCode[i].Code == code {
			a.byCode[i].Entries++
			return
		}
	}
	a.byCode = append(a.byCode, EntryCode{Code: code, Kind: f.kind(), Entries: 1})
}

var errMalformed = errors.New("malformed JSON")

// parse reads an answer body of protocol p, in JSON or in CBOR (see
// parseCBOR): for Kinesis PutRecords
//
//	{"FailedRecordCount":1,"Records":[{"SequenceNumber":"..","ShardId":".."},{"ErrorCode":"..","ErrorMessage":".."}]}
//
// and for Firehose PutRecordBatch
//
//	{"FailedPutCount":1,"Encrypted":false,"RequestResponses":[{"RecordId":".."},{"ErrorCode":"..","ErrorMessage":".."}]}
//
// Only the count and each entry's ErrorCode and ErrorMessage are decoded;
// SequenceNumber, RecordId and unknown members are skipped without being
// copied.
func (a *putAnswer) parse(p *protocol, b []byte) error {
	a.reset()
	if a.proto != p {
		// A code may mean something else to the other service.
		a.codes, a.nextCode, a.proto = [len(a.codes)]codeStatus{}, 0, p
	}
	if isCBOR(b) {
		return a.parseCBOR(p, b)
	}
	count, records := p.countMember, p.recordsMember
	s := scanner{b: b}
	sawCount := false
	err := s.object(func(key []byte) error {
		switch {
		case string(key) == count:
			n, err := s.uint()
			a.failed, sawCount = n, true
			return err
		case string(key) == records:
			a.status = a.status[:0] // the last one counts, as in encoding/json
			return s.array(func() error { return a.entry(&s) })
		}
		return s.skip()
	}, &a.scratch)
	if err != nil {
		return err
	}
	if s.ws(); s.i != len(b) {
		return errMalformed
	}
	return a.check(sawCount, count)
}

// check makes sure a parsed answer had its count member, named count, and
// that the count matches the failed entries.
func (a *putAnswer) check(sawCount bool, count string) error {
	if !sawCount {
		return errors.New("no " + count)
	}
	failed := 0
	for _, st := range a.status {
		if st != noFailure {
			failed++
		}
	}
	if failed != a.failed {
		// Which entries were stored is uncertain: the caller resends them
		// all rather than risk acknowledging a lost one.
		return errors.New(count + " does not match the failed entries")
	}
	return nil
}

// entry reads one element of Records (RequestResponses).
func (a *putAnswer) entry(s *scanner) error {
	if s.storedEntry() {
		a.status = append(a.status, noFailure)
		return nil
	}
	st := noFailure
	var code, msg []byte // raw, possibly escaped
	codeEsc, msgEsc := false, false
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "ErrorCode":
			code, codeEsc, err = s.nullableString()
		case "ErrorMessage":
			msg, msgEsc, err = s.nullableString()
		default:
			err = s.skip()
		}
		return err
	}, &a.scratch)
	if err != nil {
		return err
	}
	if code != nil {
		// Strings are compared in place: only escaped ones are copied.
		c := code
		if codeEsc {
			var ok bool
			if a.scratch, ok = transform.AppendUnescaped(a.scratch[:0], code); !ok {
				return errMalformed
			}
			c = a.scratch
		}
		var str string
		str, st = a.classify(c)
		a.tally(str, st)
		if a.code == "" {
			a.code = str
			a.msg = unescapedString(msg, msgEsc)
		}
	}
	a.status = append(a.status, st)
	return nil
}

// classify returns code as a string and the status of an entry failed
// with it.
func (a *putAnswer) classify(code []byte) (string, failure) {
	for _, c := range a.codes {
		if c.code == string(code) && c.st != noFailure {
			return c.code, c.st
		}
	}
	c := codeStatus{code: string(code)}
	c.st = a.proto.entryFailure(c.code)
	a.codes[a.nextCode] = c
	a.nextCode = (a.nextCode + 1) % len(a.codes)
	return c.code, c.st
}

// parseErrorAnswer returns the error code and message of an error answer,
// from the X-Amzn-ErrorType header or the body's __type or code member, as
// the SDK reads them. The body may be JSON or CBOR. It never fails: what
// cannot be read stays empty.
func parseErrorAnswer(header string, body []byte) (code, msg string) {
	var typ, altCode string
	if isCBOR(body) {
		typ, altCode, msg = cborErrorMembers(body)
	} else {
		typ, altCode, msg = jsonErrorMembers(body)
	}
	switch {
	case header != "":
		code = header
	case typ != "":
		code = typ
	default:
		code = altCode
	}
	// "aws.protocoltests#Code:http://internal.amazon.com/..." → "Code".
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if i := strings.IndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return code, msg
}

// jsonErrorMembers returns an error answer's __type, code and message
// members.
func jsonErrorMembers(body []byte) (typ, altCode, msg string) {
	s := scanner{b: body}
	var scratch []byte
	_ = s.object(func(key []byte) error {
		var (
			v   []byte
			esc bool
			err error
		)
		switch {
		case string(key) == "__type", bytes.EqualFold(key, []byte("code")), bytes.EqualFold(key, []byte("message")):
			if v, esc, err = s.nullableString(); err != nil {
				return err
			}
		default:
			return s.skip()
		}
		switch str := unescapedString(v, esc); {
		case string(key) == "__type":
			typ = str
		case bytes.EqualFold(key, []byte("code")):
			altCode = str
		default:
			msg = str
		}
		return nil
	}, &scratch)
	return typ, altCode, msg
}

// unescapedString returns the JSON string content raw as a Go string.
func unescapedString(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	b, ok := transform.AppendUnescaped(nil, raw)
	if !ok {
		return string(raw)
	}
	return string(b)
}

// scanner reads JSON from b without building values: just enough of a
// tokenizer to pick a few members out of an answer and skip the rest.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object reads an object, calling member with each key (unescaped, valid
// until the next call) positioned before the member's value. The value
// must be consumed by member.
func (s *scanner) object(member func(key []byte) error, scratch *[]byte) error {
	if s.peek() != '{' {
		return errMalformed
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '"' {
			return errMalformed
		}
		key, esc, err := s.string()
		if err != nil {
			return err
		}
		if esc {
			var ok bool
			if *scratch, ok = transform.AppendUnescaped((*scratch)[:0], key); !ok {
				return errMalformed
			}
			key = *scratch
		}
		if s.peek() != ':' {
			return errMalformed
		}
		s.i++
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errMalformed
		}
	}
}

// array reads an array, calling elem positioned before each element.
func (s *scanner) array(elem func() error) error {
	if s.peek() != '[' {
		return errMalformed
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errMalformed
		}
	}
}

// storedEntry reads an entry as the services write a stored one, compact,
// with string members and no escapes, none of them ErrorCode or
// ErrorMessage: {"SequenceNumber":"..","ShardId":".."} or
// {"RecordId":".."}. It reports false, having read nothing, for any other
// entry, which the general path then reads. Most answers are all stored
// entries: this is most of the time spent on an answer.
func (s *scanner) storedEntry() bool {
	b, i := s.b, s.i
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	for {
		// "key":"value"
		if i >= len(b) || b[i] != '"' {
			return false
		}
		k := bytes.IndexByte(b[i+1:], '"')
		if k < 0 {
			return false
		}
		key := b[i+1 : i+1+k]
		if bytes.IndexByte(key, '\\') >= 0 || string(key) == "ErrorCode" || string(key) == "ErrorMessage" {
			return false
		}
		i += k + 2
		if i+1 >= len(b) || b[i] != ':' || b[i+1] != '"' {
			return false
		}
		v := bytes.IndexByte(b[i+2:], '"')
		if v < 0 || bytes.IndexByte(b[i+2:i+2+v], '\\') >= 0 {
			return false
		}
		i += v + 3
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			s.i = i + 1
			return true
		default:
			return false
		}
	}
}

// string reads a string and returns its raw content, which holds
// backslash escapes if esc. Control characters inside are let through: the
// scanner needs to find the string's end, not to validate it.
func (s *scanner) string() (raw []byte, esc bool, err error) {
	if s.peek() != '"' {
		return nil, false, errMalformed
	}
	start := s.i + 1
	end := bytes.IndexByte(s.b[start:], '"')
	if end < 0 {
		return nil, false, errMalformed
	}
	end += start
	if bytes.IndexByte(s.b[start:end], '\\') < 0 {
		s.i = end + 1
		return s.b[start:end], false, nil
	}
	for i := start; i < len(s.b); i++ {
		switch s.b[i] {
		case '"':
			s.i = i + 1
			return s.b[start:i], true, nil
		case '\\':
			i++ // the escaped byte cannot end the string
		}
	}
	return nil, false, errMalformed
}

// nullableString reads a string or null; raw is nil only for null.
func (s *scanner) nullableString() (raw []byte, esc bool, err error) {
	if s.peek() == 'n' {
		return nil, false, s.literal("null")
	}
	return s.string()
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return errMalformed
	}
	s.i += len(lit)
	return nil
}

// uint reads a non-negative integer.
func (s *scanner) uint() (int, error) {
	s.ws()
	start, n := s.i, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		if n > 1<<40 {
			return 0, errMalformed
		}
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	if s.i == start {
		return 0, errMalformed
	}
	return n, nil
}

// skip skips one value of any kind. Nested containers are skipped by
// counting brackets, without recursion, so no input can exhaust the stack.
func (s *scanner) skip() error {
	switch c := s.peek(); c {
	case '"':
		_, _, err := s.string()
		return err
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, _, err := s.string(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return errMalformed
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		start := s.i
		for s.i < len(s.b) {
			c := s.b[s.i]
			if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
				break
			}
			s.i++
		}
		if s.i == start {
			return errMalformed
		}
		return nil
	}
}
