package config

import (
	"strings"
	"testing"
)

func TestInsecureEndpoint(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"https://kinesis.us-east-1.amazonaws.com": false,
		"https://10.0.0.5:4568":                   false,
		"http://127.0.0.1:4568":                   false,
		"http://127.9.9.9":                        false,
		"http://[::1]:4568/":                      false,
		"http://localhost:4568":                   false,
		"http://LOCALHOST":                        false,
		"http://u:p@127.0.0.1:4568":               false,
		"http://kinesis.us-east-1.amazonaws.com":  true,
		"http://10.0.0.5:4568":                    true,
		"http://0.0.0.0:4568":                     true,
		"http://[::]:4568":                        true,
		"http://localhost.example.com":            true,
		"http://127.0.0.1.nip.io":                 true,
	} {
		if got := InsecureEndpoint(endpoint); got != want {
			t.Errorf("InsecureEndpoint(%q) = %v, want %v", endpoint, got, want)
		}
	}
}

// TestParseInsecureEndpoint checks that plain http to another host is
// refused unless allow_insecure_endpoint says so, on every endpoint.
func TestParseInsecureEndpoint(t *testing.T) {
	const flows = "flows: [{name: f, paths: [/a], destination: d}]\n"
	const refused = "plain http to another host sends records and the access key id in clear text"
	tests := []struct {
		name, doc, wantErr string
	}{
		{
			name:    "kinesis, plain http to another host",
			doc:     "destinations:\n  d: {type: kinesis, stream: s, endpoint: 'http://admin:hunter2@kinesis.example.com'}\n",
			wantErr: `f.yaml:2:43: destination "d": endpoint: ` + refused,
		},
		{
			name:    "firehose, plain http to another host",
			doc:     "destinations:\n  d: {type: firehose, delivery_stream: s, endpoint: 'http://10.1.2.3:4573'}\n",
			wantErr: `f.yaml:2:53: destination "d": endpoint: ` + refused,
		},
		{
			name: "cloudwatch, plain http to another host",
			doc: "agent: {cloudwatch: {enabled: true, endpoint: 'http://monitoring.example.com'}}\n" +
				"destinations: {d: {type: stdout}}\n",
			wantErr: `f.yaml:1:47: agent.cloudwatch.endpoint: ` + refused,
		},
		{
			name:    "allowed on the destination",
			doc:     "destinations:\n  d: {type: kinesis, stream: s, endpoint: 'http://kinesis.example.com', allow_insecure_endpoint: true}\n",
			wantErr: "",
		},
		{
			name: "allowed for cloudwatch",
			doc: "agent: {cloudwatch: {enabled: true, endpoint: 'http://10.0.0.1', allow_insecure_endpoint: true}}\n" +
				"destinations: {d: {type: stdout}}\n",
			wantErr: "",
		},
		{
			name:    "loopback needs no permission",
			doc:     "destinations:\n  d: {type: kinesis, stream: s, endpoint: 'http://[::1]:4568'}\n",
			wantErr: "",
		},
		{
			name:    "https needs no permission",
			doc:     "destinations:\n  d: {type: kinesis, stream: s, endpoint: 'https://kinesis.example.com'}\n",
			wantErr: "",
		},
		{
			name:    "not for a file destination",
			doc:     "destinations:\n  d: {type: file, path: /tmp/x, allow_insecure_endpoint: true}\n",
			wantErr: `f.yaml:2:58: destination "d": allow_insecure_endpoint: does not apply to type file (only kinesis, firehose)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse("f.yaml", []byte(tt.doc+flows), testLookup)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused:\n%v", err)
				}
				if s := c.Summary(); strings.Contains(s, "http://kinesis.example.com") && !strings.Contains(s, "(plain http: allow_insecure_endpoint)") {
					t.Errorf("summary does not say the endpoint is plain http:\n%s", s)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got:\n%v\nwant:\n%s", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
