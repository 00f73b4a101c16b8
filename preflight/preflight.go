package preflight

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kinetail/kinetail/checkpoint"
	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/metrics"
	"github.com/kinetail/kinetail/tailer"
)

// maxUnreadable is how many unreadable files of one flow are named; the
// rest are counted in one more finding, so a glob over a thousand files of
// the wrong group does not bury the other findings.
const maxUnreadable = 10

// Finding is one problem found. An error stops `kinetail check`; a warning
// is shown and the configuration still passes.
type Finding struct {
	Level   slog.Level // slog.LevelWarn or slog.LevelError
	Message string
}

func (f Finding) String() string {
	if f.Level >= slog.LevelError {
		return "error: " + f.Message
	}
	return "warning: " + f.Message
}

// Options choose the checks.
type Options struct {
	// Listen checks that agent.metrics.listen can be bound, unless a
	// kinetail agent answers there (the running agent, when check is run
	// before a reload). The agent leaves it off at start: it binds the
	// address itself right after and logs the error then.
	Listen bool
}

// Check returns the findings about cfg on this host, errors first, each
// group in the order of the configuration.
func Check(ctx context.Context, cfg *config.Config, o Options) []Finding {
	return newHost().check(ctx, cfg, o)
}

// Errors reports whether any finding is an error.
func Errors(findings []Finding) bool {
	return slices.ContainsFunc(findings, func(f Finding) bool { return f.Level >= slog.LevelError })
}

// Log logs each finding at its level.
func Log(ctx context.Context, log *slog.Logger, findings []Finding) {
	for _, f := range findings {
		log.Log(ctx, f.Level, f.Message)
	}
}

// host is how the checks see the machine; tests replace its functions.
type host struct {
	open      func(path string) error                     // opens the file for reading and closes it
	stat      func(path string) (fs.FileInfo, error)      // os.Stat
	user      func() (name, uid string)                   // who runs the checks; name "" if unknown
	owner     func(fi fs.FileInfo) (owner, group string)  // names of the file's owner and group, "" if unknown
	listen    func(addr string) error                     // binds addr and lets it go
	isAgent   func(ctx context.Context, addr string) bool // a kinetail agent answers /status at addr
	checkpath func(path string) error                     // checkpoint.CheckDir
}

func newHost() *host {
	return &host{
		open: func(path string) error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			return f.Close()
		},
		stat:  os.Stat,
		user:  currentUser,
		owner: ownerNames,
		listen: func(addr string) error {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			return ln.Close()
		},
		isAgent:   isAgent,
		checkpath: checkpoint.CheckDir,
	}
}

func (h *host) check(ctx context.Context, cfg *config.Config, o Options) []Finding {
	var out []Finding
	if err := h.checkpath(cfg.Agent.CheckpointFile); err != nil {
		out = append(out, Finding{slog.LevelError, fmt.Sprintf("checkpoint: %v", err)})
	}
	if addr := cfg.Agent.Metrics.Listen; o.Listen && addr != "" {
		if err := h.listen(addr); err != nil && !h.isAgent(ctx, addr) {
			out = append(out, Finding{slog.LevelError, fmt.Sprintf("agent.metrics.listen %s: %v (another program uses it: choose another address, or empty to turn metrics off)", addr, err)})
		}
	}
	for _, fc := range cfg.Flows {
		out = append(out, h.flow(fc, cfg.Agent.AllowedRoots)...)
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return int(b.Level - a.Level) })
	return out
}

// flow checks one flow's globs and the files they match now.
func (h *host) flow(fc *config.Flow, roots []string) []Finding {
	var out []Finding
	warn := func(format string, args ...any) {
		out = append(out, Finding{slog.LevelWarn, fmt.Sprintf("flow %q: ", fc.Name) + fmt.Sprintf(format, args...)})
	}
	for _, glob := range fc.Paths {
		dir := literalDir(glob)
		fi, err := h.stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			warn("directory %s does not exist: nothing matches %s until it is created", dir, glob)
		case err == nil && !fi.IsDir():
			warn("%s is not a directory: nothing matches %s", dir, glob)
		}
		// Other errors (a directory that cannot be searched) are
		// reported by the scan below.
	}
	sc, err := tailer.NewScanner(fc.Paths, fc.Exclude)
	if err != nil {
		warn("%v", err) // validated by config: not expected
		return out
	}
	links, err := tailer.ParseSymlinks(fc.Symlinks)
	if err != nil {
		warn("%v", err) // validated by config: not expected
		return out
	}
	sc.SetLinks(links, roots)
	snap := sc.Scan()
	for _, e := range snap.Errors {
		warn("%v", e)
	}
	paths := make([]string, 0, len(snap.Files))
	for p := range snap.Files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	unreadable := 0
	for _, p := range paths {
		err := h.open(p)
		if err == nil {
			continue
		}
		if unreadable++; unreadable > maxUnreadable {
			continue
		}
		warn("%s", h.unreadable(p, snap.Files[p], err))
	}
	if n := unreadable - maxUnreadable; n > 0 {
		warn("%d more files cannot be read", n)
	}
	return out
}

// unreadable says why path (with info fi) cannot be opened: for a
// permission problem, who tried, and the file's mode, owner and group,
// which is what the operator needs to fix it.
func (h *host) unreadable(path string, fi fs.FileInfo, err error) string {
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Sprintf("%s cannot be read: %v", path, err)
	}
	var b strings.Builder
	name, uid := h.user()
	who, acl := "uid "+uid, uid
	if name != "" {
		who, acl = name+" (uid "+uid+")", name
	}
	fmt.Fprintf(&b, "%s cannot be read by user %s: mode %v", path, who, fi.Mode().Perm())
	owner, group := h.owner(fi)
	if owner != "" {
		fmt.Fprintf(&b, ", owner %s", owner)
	}
	if group != "" {
		fmt.Fprintf(&b, ", group %s", group)
	}
	fmt.Fprintf(&b, " (add the user to the file's group, or give it an ACL: setfacl -m u:%s:r)", acl)
	return b.String()
}

// literalDir returns the directory of glob up to its first wildcard: the
// one that must exist for anything to match.
func literalDir(glob string) string {
	segs := strings.Split(filepath.Clean(glob), "/")
	dir := "/"
	for _, seg := range segs[:len(segs)-1] {
		if seg == "" {
			continue
		}
		if strings.ContainsAny(seg, `*?[\`) {
			break
		}
		dir = filepath.Join(dir, seg)
	}
	return dir
}

// currentUser returns the name and uid of the user the process runs as.
func currentUser() (name, uid string) {
	uid = strconv.Itoa(os.Geteuid())
	if u, err := user.LookupId(uid); err == nil {
		name = u.Username
	}
	return name, uid
}

// isAgent reports whether a kinetail agent answers /status at addr.
func isAgent(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, err := metrics.Fetch(ctx, client, addr)
	return err == nil
}
