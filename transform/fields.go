package transform

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/tailer"
)

// fields edits the members of a JSON object record: it renames, removes or
// keeps fields, converts string values to other types, and adds fields.
//
// The steps run in this order, so later ones see the new names: rename
// (old → new, in place); then remove, or keep (only the named fields stay);
// then types; then the added fields go at the end: add (static strings, by
// name), host, path, offset, record_id. A field that is added replaces a
// field of the same name in the record, and a renamed field replaces one
// that already had its new name, so the output never repeats a key the
// step wrote. Keep never removes an added field.
//
// types converts string values; a value that does not convert is left as
// it was (a consumer still sees it; counting it would cost a counter per
// field for a condition that says more about the data than the agent):
//   - int: an optional sign and decimal digits that fit in 64 bits, as a
//     JSON number.
//   - float: a number strconv.ParseFloat accepts and JSON can hold (not NaN
//     or infinite), as a JSON number.
//   - bool: true, false, 1, 0, yes or no, in any case, as true or false.
//   - timestamp: RFC 3339 (also with a space for the T), Apache's
//     02/Jan/2006:15:04:05 -0700, syslog's Jan _2 15:04:05, or Unix epoch
//     seconds (fractions allowed), milliseconds, microseconds or
//     nanoseconds (told apart by size: below 1e11 is seconds, below 1e14
//     milliseconds, below 1e17 microseconds) become RFC 3339 with
//     nanoseconds where present (trailing zeros dropped). A zone in the
//     input is kept (zero offsets are written Z); epoch times are UTC.
//     Syslog times have no zone or year: they are taken in the agent's
//     local zone, as the host's syslog daemon wrote them, and in the current
//     year, or the year before when that would put them more than a month
//     in the future (December lines read in January). Epoch values may also
//     be JSON numbers.
//
// record_id is a deterministic id for the line: 16 hex digits of a 64-bit
// FNV-1a hash of the file's device, inode and a hash of the file's bytes up
// to the line's end (at most its first KiB), "-", and the line's start
// offset in decimal. It is the same for the same line whenever it is read
// again: after a restart, a crash that resends records in flight, a
// rotation that renamed the file, and however long the file was when the
// agent opened it, so consumers can drop duplicates by it. It differs for a
// new file that got the inode of a deleted one, or a file truncated and
// rewritten in place, unless their bytes up to the line are the same (then
// the line is the same too). It changes if the file is copied to another
// device or inode. path and record_id are left out when the file is not
// known. See recordIDs for how the prefix is found.
//
// A record made by the on_error: wrap policy gets only the added fields,
// with the values a valid line at the same offsets gets, so bad lines can
// be located and de-duplicated too: rename, remove, keep and types are
// not applied to it, and an added field named raw or error is left out
// (see wrappedFields and Chain.wrap).
type fields struct {
	ctx      *Context
	obj      object
	names    []fieldName // every name the config mentions
	keepOnly bool

	add     added // what the step adds to a record
	wrapAdd added // what it adds to a wrapped record: no raw or error

	ids []int // per member of the current record: its name's index or -1

	// The current file's encoded path, cached because a batch of lines
	// shares one Source, and its record ids.
	src     *tailer.Source
	srcPath []byte
	recIDs  recordIDs

	loc *time.Location   // zone of syslog timestamps
	now func() time.Time // for the year of syslog timestamps
}

// added is what a fields step appends to a record, each field preceded by
// a comma.
type added struct {
	static    []byte // the add fields, encoded
	hostField []byte // `,"name":"host"` or nil
	pathKey   []byte // `,"name":` or nil; likewise for the next two
	offsetKey []byte
	idKey     []byte
}

type fieldType uint8

const (
	typeNone fieldType = iota
	typeInt
	typeFloat
	typeBool
	typeTimestamp
)

type fieldName struct {
	name     string
	key      []byte // `"name":`
	renameTo int    // index of the new name, or -1
	remove   bool
	keep     bool
	added    bool
	typ      fieldType
	// Per record: taken is set when a member is renamed to this name, and
	// emitted once one of them is written.
	taken, emitted bool
}

func newFields(c *config.Fields, ctx *Context) (*fields, error) {
	p := &fields{ctx: ctx, loc: time.Local, now: time.Now, keepOnly: len(c.Keep) > 0}
	index := func(name string) int {
		for i := range p.names {
			if p.names[i].name == name {
				return i
			}
		}
		key := AppendJSONString(nil, []byte(name))
		p.names = append(p.names, fieldName{name: name, key: append(key, ':'), renameTo: -1})
		return len(p.names) - 1
	}
	for _, old := range slices.Sorted(mapKeys(c.Rename)) {
		i, j := index(old), index(c.Rename[old])
		if i != j {
			p.names[i].renameTo = j
		}
	}
	for _, n := range c.Remove {
		p.names[index(n)].remove = true
	}
	for _, n := range c.Keep {
		p.names[index(n)].keep = true
	}
	for _, n := range slices.Sorted(mapKeys(c.Types)) {
		var typ fieldType
		switch c.Types[n] {
		case "int":
			typ = typeInt
		case "float":
			typ = typeFloat
		case "bool":
			typ = typeBool
		case "timestamp":
			typ = typeTimestamp
		default:
			return nil, fmt.Errorf("types: %s: unknown type %q", n, c.Types[n])
		}
		p.names[index(n)].typ = typ
	}

	// Fields the step adds, checked for clashes among themselves: the
	// dynamic ones win over static ones of the same name.
	dynamic := []struct{ what, name string }{
		{"host", c.Host}, {"path", c.Path}, {"offset", c.Offset}, {"record_id", c.RecordID},
	}
	for i, d := range dynamic {
		for _, e := range dynamic[:i] {
			if d.name != "" && d.name == e.name {
				return nil, fmt.Errorf("%s and %s are both named %q", e.what, d.what, d.name)
			}
		}
	}
	isDynamic := func(n string) bool {
		return slices.ContainsFunc(dynamic, func(d struct{ what, name string }) bool { return d.name == n })
	}
	for _, n := range slices.Sorted(mapKeys(c.Add)) {
		if isDynamic(n) {
			continue
		}
		p.names[index(n)].added = true
		start := len(p.add.static)
		p.add.static = append(p.add.static, ',')
		p.add.static = append(p.add.static, p.names[index(n)].key...)
		p.add.static = AppendJSONString(p.add.static, []byte(c.Add[n]))
		if !isWrapKey(n) {
			p.wrapAdd.static = append(p.wrapAdd.static, p.add.static[start:]...)
		}
	}
	addedKey := func(n string) []byte {
		if n == "" {
			return nil
		}
		i := index(n)
		p.names[i].added = true
		return append([]byte{','}, p.names[i].key...)
	}
	if c.Host != "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		p.add.hostField = AppendJSONString(addedKey(c.Host), []byte(host))
	}
	p.add.pathKey = addedKey(c.Path)
	p.add.offsetKey = addedKey(c.Offset)
	p.add.idKey = addedKey(c.RecordID)

	// A wrapped record keeps its raw line and error whatever the step
	// adds.
	unlessWrapKey := func(name string, b []byte) []byte {
		if isWrapKey(name) {
			return nil
		}
		return b
	}
	p.wrapAdd.hostField = unlessWrapKey(c.Host, p.add.hostField)
	p.wrapAdd.pathKey = unlessWrapKey(c.Path, p.add.pathKey)
	p.wrapAdd.offsetKey = unlessWrapKey(c.Offset, p.add.offsetKey)
	p.wrapAdd.idKey = unlessWrapKey(c.RecordID, p.add.idKey)
	return p, nil
}

// isWrapKey reports whether name is a key of the wrapped records of the
// on_error: wrap policy.
func isWrapKey(name string) bool {
	return name == wrapRawKey || name == wrapErrorKey
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (p *fields) Append(dst, in []byte) ([]byte, error) {
	if err := p.obj.scan("fields", in); err != nil {
		return dst, err
	}
	for i := range p.names {
		p.names[i].taken, p.names[i].emitted = false, false
	}
	p.ids = p.ids[:0]
	for i := range p.obj.members {
		id := p.lookup(in, &p.obj.members[i])
		if id >= 0 && p.names[id].renameTo >= 0 {
			p.names[p.names[id].renameTo].taken = true
		}
		p.ids = append(p.ids, id)
	}

	dst = append(dst, '{')
	start := len(dst)
	n := 0
	for i := range p.obj.members {
		m := &p.obj.members[i]
		id := p.ids[i]
		if id < 0 {
			if !p.keepOnly {
				dst = appendMember(dst, in, m, n)
				n++
			}
			continue
		}
		f := &p.names[id]
		renamed := f.renameTo >= 0
		if renamed {
			f = &p.names[f.renameTo]
			if f.emitted {
				continue // two fields renamed to one name: the first stays
			}
			f.emitted = true
		} else if f.taken {
			continue // replaced by a field renamed to its name
		}
		if f.remove || f.added || p.keepOnly && !f.keep {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if renamed {
			dst = append(dst, f.key...)
		} else {
			dst = append(dst, in[m.key.start:m.key.end]...)
			dst = append(dst, ':')
		}
		if f.typ != typeNone {
			dst = p.appendConverted(dst, in, m, f.typ)
		} else {
			dst = appendValue(dst, in, m)
		}
	}

	return p.appendEnd(dst, start, n, &p.add), nil
}

// wrappedFields is a fields step as it runs on a record made by the
// on_error: wrap policy (see Chain.wrap): it only adds fields.
type wrappedFields struct{ p *fields }

// Append appends in, a JSON object, with the fields of p.wrapAdd added; a
// member they name is replaced, but raw and error are always kept.
func (w wrappedFields) Append(dst, in []byte) ([]byte, error) {
	p := w.p
	if err := p.obj.scan("fields", in); err != nil {
		return dst, err
	}
	dst = append(dst, '{')
	start := len(dst)
	n := 0
	for i := range p.obj.members {
		m := &p.obj.members[i]
		if id := p.lookup(in, m); id >= 0 && p.names[id].added && !isWrapKey(p.names[id].name) {
			continue
		}
		dst = appendMember(dst, in, m, n)
		n++
	}
	return p.appendEnd(dst, start, n, &p.wrapAdd), nil
}

// appendEnd appends the fields of a and the closing brace to an object
// that began at dst[start] and has n members so far.
func (p *fields) appendEnd(dst []byte, start, n int, a *added) []byte {
	dst = p.appendAdded(dst, a)
	if n == 0 && len(dst) > start {
		// The added fields each begin with a comma; the object has no
		// member before the first.
		copy(dst[start:], dst[start+1:])
		dst = dst[:len(dst)-1]
	}
	return append(dst, '}')
}

// appendAdded appends the fields of a, each preceded by a comma.
func (p *fields) appendAdded(dst []byte, a *added) []byte {
	dst = append(dst, a.static...)
	dst = append(dst, a.hostField...)
	if a.pathKey == nil && a.offsetKey == nil && a.idKey == nil {
		return dst
	}
	src := p.ctx.Source
	if src != p.src && src != nil {
		p.src = src
		p.srcPath = AppendJSONString(p.srcPath[:0], []byte(src.Path))
	}
	if a.idKey != nil && src != nil {
		p.recIDs.set(src, p.ctx.Prefix)
	}
	if a.pathKey != nil && src != nil {
		dst = append(dst, a.pathKey...)
		dst = append(dst, p.srcPath...)
	}
	if a.offsetKey != nil {
		dst = append(dst, a.offsetKey...)
		dst = strconv.AppendInt(dst, p.ctx.Start, 10)
	}
	if a.idKey != nil && src != nil {
		dst = append(dst, a.idKey...)
		h := p.recIDs.of(p.ctx.End)
		dst = append(dst, '"')
		for shift := 60; shift >= 0; shift -= 4 {
			dst = append(dst, hexDigits[h>>shift&0xf])
		}
		dst = append(dst, '-')
		dst = strconv.AppendInt(dst, p.ctx.Start, 10)
		dst = append(dst, '"')
	}
	return dst
}

// lookup returns the index of m's key in p.names, or -1.
func (p *fields) lookup(in []byte, m *member) int {
	key := p.obj.text(in, m.key, m.keyEsc)
	for i := range p.names {
		if string(key) == p.names[i].name {
			return i
		}
	}
	return -1
}

// appendConverted appends m's value converted to typ, or unchanged if it
// does not convert.
func (p *fields) appendConverted(dst, in []byte, m *member, typ fieldType) []byte {
	var s []byte
	switch {
	case m.kind == kindString:
		s = trimSpace(p.obj.text(in, m.val, m.valEsc))
	case m.kind == kindNumber && typ == typeTimestamp:
		s = in[m.val.start:m.val.end]
	default:
		return appendValue(dst, in, m)
	}
	n := len(dst)
	ok := false
	switch typ {
	case typeInt:
		if v, valid := parseInt(s); valid {
			dst, ok = strconv.AppendInt(dst, v, 10), true
		}
	case typeFloat:
		dst, ok = appendFloat(dst, s)
	case typeBool:
		if v, valid := parseBool(s); valid {
			dst, ok = strconv.AppendBool(dst, v), true
		}
	case typeTimestamp:
		dst = append(dst, '"')
		if dst, ok = appendTimestamp(dst, s, p.loc, p.now); ok {
			dst = append(dst, '"')
		}
	}
	if !ok {
		return appendValue(dst[:n], in, m)
	}
	return dst
}

// parseInt parses an optional sign and decimal digits into an int64.
func parseInt(s []byte) (int64, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range s {
		if !isDigit(c) || u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	switch {
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	case neg && u <= 1<<63:
		return int64(-u), true // -1<<63 wraps to itself
	}
	return 0, false
}

// appendFloat appends s as a JSON number if it is one, or if
// strconv.ParseFloat reads a finite number from it.
func appendFloat(dst, s []byte) ([]byte, bool) {
	if len(s) > 0 && scanNumber(s, 0) == len(s) {
		return append(dst, s...), true
	}
	// string(s) does not escape, so short values are converted on the
	// stack.
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, false
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64), true
}

func parseBool(s []byte) (v, ok bool) {
	if len(s) > 5 {
		return false, false
	}
	var lower [5]byte
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(s)]) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}
