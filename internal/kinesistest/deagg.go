package kinesistest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// NodeModules returns the node binary and the directory of the pinned
// Node modules (test/kinesis). ErrNoNode says Node.js is not installed;
// missing modules are another error, as make test installs them.
func NodeModules() (node, dir string, err error) {
	if node, err = exec.LookPath("node"); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrNoNode, err)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	dir = filepath.Join(root, "test", "kinesis")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "aws-kinesis-agg", "package.json")); err != nil {
		return "", "", fmt.Errorf("aws-kinesis-agg is not installed (%v): run `npm ci --prefix test/kinesis` (make test does that)", err)
	}
	return node, dir, nil
}

// ErrNoNode is returned by NodeModules when Node.js is not installed.
var ErrNoNode = fmt.Errorf("node not found")

// RunNode runs node with args in the modules' directory, with stdin, and
// returns its stdout; an error includes its stderr.
func RunNode(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	node, dir, err := NodeModules()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("node %s: %w; stderr: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// KinesisRecord is a record as GetRecords returns it, for Deaggregate.
// encoding/json writes Data as base64, as deagg.js wants.
type KinesisRecord struct {
	Data            []byte `json:"data"`
	PartitionKey    string `json:"partitionKey"`
	ExplicitHashKey string `json:"explicitHashKey,omitempty"`
}

// UserRecord is one user record as a KCL consumer sees it.
type UserRecord struct {
	Record            int    `json:"record"` // index of the Kinesis record it came from
	SubSequenceNumber *int   `json:"subSequenceNumber"`
	PartitionKey      string `json:"partitionKey"`
	ExplicitHashKey   string `json:"explicitHashKey"`
	Data              []byte `json:"data"`
}

// Deaggregate decodes records with awslabs' own KPL decoder, the npm
// package aws-kinesis-agg, with checksums verified (test/kinesis/deagg.js).
// Records that are not aggregates pass through as they are, unless
// requireAggregated makes them an error.
func Deaggregate(ctx context.Context, records []KinesisRecord, requireAggregated bool) ([]UserRecord, error) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, r := range records {
		if err := enc.Encode(r); err != nil {
			return nil, err
		}
	}
	args := []string{"deagg.js"}
	if requireAggregated {
		args = append(args, "--require-aggregated")
	}
	out, err := RunNode(ctx, in.Bytes(), args...)
	if err != nil {
		return nil, err
	}
	var users []UserRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var u UserRecord
		if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
			return nil, fmt.Errorf("deagg.js wrote %q: %w", sc.Text(), err)
		}
		users = append(users, u)
	}
	return users, sc.Err()
}
