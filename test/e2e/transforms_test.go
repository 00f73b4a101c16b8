//go:build e2e

package e2e

import (
	"bytes"
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// One flow per transform family, through the real binary into
// kinesis-local: every record is checked field by field, filtered lines
// are not sent, emails are redacted, and after a SIGKILL and a restart
// that sends everything again (the checkpoints are deleted), each web line
// comes back with the same record_id, although the file was under 1 KiB
// when the first run opened it and over 1 KiB when the second did.
func TestTransformsThroughAgent(t *testing.T) {
	srv := kinesistest.StartServer(t)
	ctx := ctxTimeout(t, 4*time.Minute)
	const stream = "e2e-transforms"
	if err := srv.CreateStream(ctx, stream, 1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"web", "sys", "app", "csv"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeConfig(t, dir, srv.Endpoint(), stream, fmt.Sprintf(`  - name: web
    paths: ["%[1]s/web/*.log"]
    initial_position: start_of_file
    transforms:
      - log_to_json: {format: combined_apache}
      - fields:
          types: {response: int, bytes: int, datetime: timestamp}
          host: hostname
          path: file
          offset: offset
          record_id: record_id
      - redact: {patterns: [email]}
      - filter: {field: request, matches: '^GET /health'}
    destination: out
  - name: sys
    paths: ["%[1]s/sys/*.log"]
    initial_position: start_of_file
    transforms:
      - log_to_json: {format: rfc5424_syslog}
    destination: out
  - name: app
    paths: ["%[1]s/app/*.log"]
    initial_position: start_of_file
    transforms:
      - logfmt: {}
      - add_metadata: {metadata: {env: e2e}}
    destination: out
  - name: csv
    paths: ["%[1]s/csv/*.csv"]
    initial_position: start_of_file
    transforms:
      - csv_to_json: {header: true}
    destination: out
`, dir))
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	w := &transformFiles{t: t, dir: dir, hostname: hostname, want: map[string]map[string]any{}}
	agent := startAgent(t, cfg)
	// Small files first: the web log is opened while under 1 KiB.
	w.write(3)
	if len(w.web) >= 1024 {
		t.Fatalf("the web log has %d bytes; it must start under 1 KiB", len(w.web))
	}
	if _, err := srv.WaitForCount(ctx, stream, len(w.want)); err != nil {
		t.Fatal(err)
	}
	w.write(30) // the web log grows past 1 KiB
	if _, err := srv.WaitForCount(ctx, stream, len(w.want)); err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for k := range w.want {
		before[k] = true
	}
	w.write(10) // some of these are in flight at the kill
	time.Sleep(100 * time.Millisecond)
	agent.kill()
	if len(w.web) < 2048 {
		t.Fatalf("the web log has only %d bytes", len(w.web))
	}

	// Without checkpoints the restart reads every file from the start
	// again: every line is sent a second time, now from files opened at
	// full length.
	// (The store keeps a previous copy beside the file: remove both.)
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	agent = startAgent(t, cfg)
	var recs []kinesistest.Record
	eventually(t, 2*time.Minute, "every record twice", func() bool {
		recs, err = srv.ReadAll(ctx, stream)
		if err != nil {
			return false
		}
		seen := map[string]int{}
		for _, r := range recs {
			seen[recordKey(t, r.Data)]++
		}
		for k := range w.want {
			if seen[k] < 1 || before[k] && seen[k] < 2 {
				return false
			}
		}
		return true
	})
	agent.stop()
	if recs, err = srv.ReadAll(ctx, stream); err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{}
	for _, r := range recs {
		if bytes.Contains(r.Data, []byte("@example.com")) {
			t.Errorf("an email was not redacted: %s", r.Data)
		}
		if bytes.Contains(r.Data, []byte("/health")) {
			t.Errorf("a filtered line was sent: %s", r.Data)
		}
		k := recordKey(t, r.Data)
		seen[k]++
		want, ok := w.want[k]
		if !ok {
			t.Errorf("unexpected record %s", r.Data)
			continue
		}
		var got map[string]any
		if err := json.Unmarshal(r.Data, &got); err != nil {
			t.Fatalf("record %s: %v", r.Data, err)
		}
		if md, ok := got["metadata"]; ok {
			// add_metadata: the time it was made, and the logfmt record
			// as a string.
			if _, err := time.Parse("2006-01-02T15:04:05.000Z", got["ts"].(string)); err != nil {
				t.Errorf("add_metadata ts in %s: %v", r.Data, err)
			}
			var data map[string]any
			if err := json.Unmarshal([]byte(got["data"].(string)), &data); err != nil {
				t.Errorf("add_metadata data in %s: %v", r.Data, err)
			}
			got = map[string]any{"metadata": md, "data": data}
		}
		if !reflect.DeepEqual(got, want) {
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want)
			t.Errorf("record\n got %s\nwant %s", gotJSON, wantJSON)
		}
	}
	dups := 0
	for k := range w.want {
		switch {
		case seen[k] == 0:
			t.Errorf("%s never arrived", k)
		case before[k] && seen[k] < 2:
			t.Errorf("%s arrived %d times, want at least twice (before the kill and after the restart)", k, seen[k])
		}
		dups += max(seen[k]-1, 0)
	}
	t.Logf("%d lines, %d stored before the kill, %d records, %d of them second copies; %d web lines filtered",
		len(w.want), len(before), len(recs), dups, w.health)
}

// transformFiles writes the four flows' files and keeps the record each
// line must give, by recordKey.
type transformFiles struct {
	t        *testing.T
	dir      string
	hostname string
	n        int
	web      []byte // the web log's bytes, for offsets and record ids
	health   int    // lines the filter drops
	want     map[string]map[string]any
}

// write appends n lines to each file (the CSV file gets its header first).
func (w *transformFiles) write(n int) {
	t := w.t
	web := filepath.Join(w.dir, "web", "access.log")
	var webLines, sys, app, csv bytes.Buffer
	if w.n == 0 {
		csv.WriteString("id,user,status\n")
	}
	for range n {
		i := w.n
		w.n++
		key := fmt.Sprintf("req-%d", i)
		// Web: every fourth line is a health check the filter drops;
		// every third has an email as its user, which redact masks.
		user, wantUser := "-", any(nil)
		if i%3 == 0 {
			user, wantUser = fmt.Sprintf("user%d@example.com", i), "****"
		}
		path := "/api/orders/" + key
		if i%4 == 1 {
			path = "/health?" + key
			w.health++
		}
		at := time.Date(2026, 11, 22, 5, 0, i%60, 0, time.FixedZone("", -7*3600))
		line := fmt.Sprintf(`10.0.0.%d - %s [%s] "GET %s HTTP/1.1" 200 %d "https://example.org/" "curl/8.5.0"`,
			i%250+1, user, at.Format("02/Jan/2006:15:04:05 -0700"), path, 1000+i)
		start := int64(len(w.web)) + int64(webLines.Len())
		webLines.WriteString(line + "\n")
		if i%4 != 1 {
			end := start + int64(len(line)) + 1
			w.want[key] = map[string]any{
				"host": fmt.Sprintf("10.0.0.%d", i%250+1), "ident": nil, "authuser": wantUser,
				"datetime": at.Format(time.RFC3339), "request": "GET " + path + " HTTP/1.1",
				"response": float64(200), "bytes": float64(1000 + i),
				"referer": "https://example.org/", "agent": "curl/8.5.0",
				"hostname": w.hostname, "file": web, "offset": float64(start),
				"record_id": pendingID{start, end}, // filled in below, once the file exists
			}
		}

		skey := fmt.Sprintf("sys-%d", i)
		fmt.Fprintf(&sys, "<165>1 2026-11-22T05:00:%02d.003Z web-1.example.org orders %d ID47 [meta@32473 req=\"%s\"] order %s accepted\n",
			i%60, 4000+i, skey, skey)
		w.want[skey] = map[string]any{
			"pri": "165", "version": "1", "timestamp": fmt.Sprintf("2026-11-22T05:00:%02d.003Z", i%60),
			"hostname": "web-1.example.org", "app_name": "orders", "procid": fmt.Sprint(4000 + i), "msgid": "ID47",
			"structured_data": fmt.Sprintf("[meta@32473 req=\"%s\"]", skey), "message": "order " + skey + " accepted",
		}

		akey := fmt.Sprintf("app-%d", i)
		fmt.Fprintf(&app, "ts=2026-11-22T05:00:00Z level=info msg=\"job %s done\" id=%s took=%dms\n", akey, akey, i)
		w.want[akey] = map[string]any{
			"metadata": map[string]any{"env": "e2e"},
			"data": map[string]any{"ts": "2026-11-22T05:00:00Z", "level": "info", "msg": "job " + akey + " done",
				"id": akey, "took": fmt.Sprintf("%dms", i)},
		}

		ckey := fmt.Sprintf("csv-%d", i)
		fmt.Fprintf(&csv, "%s,\"Doe, Jane\",%d\n", ckey, 200+i%3)
		w.want[ckey] = map[string]any{"id": ckey, "user": "Doe, Jane", "status": fmt.Sprint(200 + i%3)}
	}
	mustAppend(t, web, webLines.Bytes())
	w.web = append(w.web, webLines.Bytes()...)
	mustAppend(t, filepath.Join(w.dir, "sys", "syslog.log"), sys.Bytes())
	mustAppend(t, filepath.Join(w.dir, "app", "app.log"), app.Bytes())
	mustAppend(t, filepath.Join(w.dir, "csv", "orders.csv"), csv.Bytes())

	// Record ids: the hash of device, inode and the FNV-1a hash of the
	// file's first min(end, 1 KiB) bytes, then the start offset.
	fi, err := os.Stat(web)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	for _, rec := range w.want {
		p, ok := rec["record_id"].(pendingID)
		if !ok {
			continue
		}
		prefix := fnv.New64a()
		prefix.Write(w.web[:min(p.end, 1024)])
		h := fnv.New64a()
		bin.Write(h, bin.LittleEndian, [3]uint64{uint64(st.Dev), st.Ino, prefix.Sum64()})
		rec["record_id"] = fmt.Sprintf("%016x-%d", h.Sum64(), p.start)
	}
}

// pendingID is a record id to work out once the line is in the file.
type pendingID struct{ start, end int64 }

// recordKey finds the line a record came from: the req-, sys-, app- or
// csv- key it carries.
func recordKey(t *testing.T, data []byte) string {
	for _, prefix := range []string{"req-", "sys-", "app-", "csv-"} {
		i := bytes.Index(data, []byte(prefix))
		if i < 0 {
			continue
		}
		j := i + len(prefix)
		for j < len(data) && data[j] >= '0' && data[j] <= '9' {
			j++
		}
		return string(data[i:j])
	}
	t.Errorf("record without a key: %s", data)
	return ""
}
