package agentjson

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kinetail/kinetail/config"
)

// Note is something kinetail says about an agent.json when it starts from
// one: a difference in behaviour (info) or a key it ignores (debug).
type Note struct {
	Level slog.Level
	Pos   Pos // zero when about the file as a whole
	Msg   string
}

func (n Note) String() string {
	if n.Pos.Line == 0 {
		return n.Msg
	}
	return n.Pos.String() + ": " + n.Msg
}

// Result is an agent.json read into kinetail's terms.
type Result struct {
	// Config is what run and check use: the YAML below, parsed and
	// validated by config.Parse.
	Config *config.Config
	// YAML is the equivalent kinetail configuration, with comments on
	// where each value came from (what `kinetail convert` prints).
	YAML []byte
	// Notes are said once at start: info for what kinetail does
	// differently, debug for keys it ignores as the agent does.
	Notes []Note
	// Env holds AWS SDK environment variables for the process, from keys
	// the YAML has no place for: awsAccessKeyId and awsSecretAccessKey,
	// sts.endpoint. Never written to YAML.
	Env map[string]string
	// Files are the files read: the agent.json, then its fragments.
	Files []string
}

// Detect reports whether the configuration file at path, with content
// data, is in the Kinesis Agent's format: a .json file that is not
// kinetail's own shape (which has destinations). A .json file that is not
// valid JSON counts as the agent's format, so its errors are reported as
// JSON errors.
func Detect(path string, data []byte) bool {
	if !strings.EqualFold(filepath.Ext(path), ".json") {
		return false
	}
	root, err := parseJSON(path, data)
	if err != nil {
		return true
	}
	return root.Kind != Object || root.Get("destinations") == nil && root.Get("agent") == nil
}

// Load reads the agent.json at path and the flows of every file in the
// agent.d directory next to it, as the Kinesis Agent does (it reads
// /etc/aws-kinesis/agent.d for /etc/aws-kinesis/agent.json).
func Load(path string) (*Result, error) {
	dir := filepath.Join(filepath.Dir(path), "agent.d")
	var fragments []string
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load config: %w", err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		// Regular files, and links to them; the agent skips the rest.
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			fragments = append(fragments, p)
		}
	}
	return LoadFiles(path, fragments)
}

// LoadFiles reads the agent.json at path and appends the flows of each
// fragment, in order (what `kinetail convert agent.json agent.d/*.json`
// asks for).
func LoadFiles(path string, fragments []string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	frag := make([][]byte, len(fragments))
	for i, f := range fragments {
		if frag[i], err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("load config: %w", err)
		}
	}
	return Parse(path, data, fragments, frag)
}

// Parse reads an agent.json (file names it in messages) and its fragments.
// On failure the error is config.Errors, every problem with the file, line
// and column it comes from, in the agent's files.
func Parse(file string, data []byte, fragmentFiles []string, fragments [][]byte) (*Result, error) {
	res := &Result{Files: append([]string{file}, fragmentFiles...)}
	l := &loader{file: file, files: res.Files, env: map[string]string{}}
	root, err := parseJSON(file, data)
	if err != nil {
		return nil, config.Errors{err.(*config.Error)}
	}
	if root.Kind != Object {
		return nil, config.Errors{errorAt(root.Pos, "expected an object with flows, got %v", root.Kind)}
	}
	l.global(root)
	flows := l.flowList(root, root.Pos)
	for i, f := range fragmentFiles {
		froot, err := parseJSON(f, fragments[i])
		if err != nil {
			// The agent skips such a file with a warning, and so loses
			// its flows without a word: here it is an error.
			l.errs = append(l.errs, err.(*config.Error))
			continue
		}
		if froot.Kind != Object {
			l.errorf(froot.Pos, "expected an object with flows, got %v", froot.Kind)
			continue
		}
		for _, m := range froot.Members {
			if m.Key != "flows" {
				l.debug(m.KeyPos, "%s: ignored in a file of agent.d, as the agent does (only flows are read there)", m.Key)
			}
		}
		flows = append(flows, l.flowList(froot, froot.Pos)...)
	}
	if len(flows) == 0 && len(l.errs) == 0 {
		l.errorf(root.Pos, "no flows: the agent needs at least one (flows: [{filePattern, kinesisStream or deliveryStream}])")
	}
	l.checkDuplicates(flows)
	if len(l.errs) > 0 {
		return nil, l.finish()
	}
	doc, header := l.document(flows)
	res.YAML, l.origins = render(header, doc)
	cfg, err := config.Parse(file, res.YAML)
	if err != nil {
		var errs config.Errors
		if !errors.As(err, &errs) {
			return nil, err
		}
		for _, e := range errs {
			l.errs = append(l.errs, l.remap(file, e))
		}
		return nil, l.finish()
	}
	// Messages about a flow or destination name its place in agent.json.
	cfg.File = file
	for i, f := range cfg.Flows {
		f.Line = flows[i].pos.Line
	}
	for _, d := range l.dests {
		cfg.Destinations[d.name].Line = d.first.pos.Line
	}
	for _, d := range differences {
		l.info(Pos{}, "%s", d)
	}
	res.Config, res.Notes = cfg, l.notes
	if len(l.env) > 0 {
		res.Env = l.env
	}
	return res, nil
}

// remap moves a problem found in the rendered YAML to the agent.json value
// it came from.
func (l *loader) remap(file string, e *config.Error) *config.Error {
	out := &config.Error{File: file, Msg: e.Msg}
	if e.Line >= 1 && e.Line <= len(l.origins) {
		o := l.origins[e.Line-1]
		if o.pos.Line > 0 {
			out.File, out.Line, out.Col = o.pos.File, o.pos.Line, o.pos.Col
		}
		if o.src != "" {
			out.Msg += " (from " + o.src + ")"
		}
	}
	return out
}

type loader struct {
	file    string   // the agent.json
	files   []string // it and its fragments, in order
	errs    config.Errors
	notes   []Note
	env     map[string]string
	g       globals
	dests   []*dest
	origins []origin
}

func (l *loader) errorf(p Pos, format string, args ...any) {
	l.errs = append(l.errs, errorAt(p, format, args...))
}

func (l *loader) info(p Pos, format string, args ...any) {
	l.notes = append(l.notes, Note{Level: slog.LevelInfo, Pos: p, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) debug(p Pos, format string, args ...any) {
	l.notes = append(l.notes, Note{Level: slog.LevelDebug, Pos: p, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) finish() config.Errors {
	// The agent.json first, then its fragments in order.
	slices.SortStableFunc(l.errs, func(a, b *config.Error) int {
		return cmp.Or(cmp.Compare(slices.Index(l.files, a.File), slices.Index(l.files, b.File)),
			cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return slices.CompactFunc(l.errs, func(a, b *config.Error) bool { return *a == *b })
}

// value is a scalar read from agent.json, or its default.
type value[T any] struct {
	v   T
	set bool // given in the file; else v is the agent's default
	pos Pos
	key string
}

// comment says where a value came from, for the YAML.
func (v value[T]) comment(what string) string {
	if v.set {
		return v.key
	}
	if what == "" {
		return v.key + ": the agent's default"
	}
	return v.key + ": the agent's default, " + what
}

// read reads key of obj with conv; absent (or null) or unreadable, it is
// def, and an unreadable value is reported at its place.
func read[T any](l *loader, obj *Node, key, scope string, def T, conv func(*Node) (T, string)) value[T] {
	out := value[T]{v: def, key: key, pos: obj.Pos}
	n := obj.Get(key)
	if n == nil || n.Kind == Null {
		return out
	}
	v, msg := conv(n)
	if msg != "" {
		l.errorf(n.Pos, "%s%s: %s", scope, key, msg)
		return out
	}
	out.v, out.set, out.pos = v, true, n.Pos
	return out
}

// str reads key of obj as a string.
func (l *loader) str(obj *Node, key, scope, def string) value[string] {
	return read(l, obj, key, scope, def, readString)
}

// num reads key of obj as a whole number in [lo, hi].
func (l *loader) num(obj *Node, key, scope string, def, lo, hi int64) value[int64] {
	return read(l, obj, key, scope, def, func(n *Node) (int64, string) { return readInt(n, lo, hi) })
}

// boolean reads key of obj as a boolean.
func (l *loader) boolean(obj *Node, key, scope string, def bool) value[bool] {
	return read(l, obj, key, scope, def, readBool)
}

// enum reads key of obj as one of values.
func (l *loader) enum(obj *Node, key, scope, def string, values ...string) value[string] {
	return read(l, obj, key, scope, def, func(n *Node) (string, string) { return readEnum(n, values...) })
}

// Java's integer ranges, for keys the agent reads without a range of its
// own.
const (
	maxInt  = 1<<31 - 1
	minInt  = -1 << 31
	maxLong = 1<<63 - 1
	minLong = -1 << 63
	// maxMillis is the longest time in milliseconds a kinetail duration
	// holds.
	maxMillis = maxLong / 1_000_000
)

// kind of an agent key the agent reads but kinetail has no use for: its
// value is still checked as the agent would.
type kind int

const (
	kString kind = iota
	kInt
	kLong
	kBool
)

// check reads n as k, reporting what the agent would refuse.
func (l *loader) check(obj *Node, key, scope string, k kind) {
	switch k {
	case kString:
		l.str(obj, key, scope, "")
	case kInt:
		l.num(obj, key, scope, 0, minInt, maxInt)
	case kLong:
		l.num(obj, key, scope, 0, minLong, maxLong)
	case kBool:
		l.boolean(obj, key, scope, false)
	}
}
