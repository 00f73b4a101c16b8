package transform

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kinetail/kinetail/config"
)

// Lines from the Kinesis Agent's documentation and unit tests
// (DataConverterTest), with the records the agent writes for them.
const (
	agentCombinedLine = `123.45.67.89 - - [27/Oct/2000:09:27:09 -0400] "GET /java/javaResources.html HTTP/1.0" 200 10450 "-" "Mozilla/4.6 [en] (X11; U; OpenBSD 2.8 i386; Nav)"`
	agentCommonJSON   = `{"host":"123.45.67.89","ident":null,"authuser":null,"datetime":"27/Oct/2000:09:27:09 -0400","request":"GET /java/javaResources.html HTTP/1.0","response":"200","bytes":"10450"}`
	agentCombinedJSON = `{"host":"123.45.67.89","ident":null,"authuser":null,"datetime":"27/Oct/2000:09:27:09 -0400","request":"GET /java/javaResources.html HTTP/1.0","response":"200","bytes":"10450","referer":null,"agent":"Mozilla/4.6 [en] (X11; U; OpenBSD 2.8 i386; Nav)"}`
)

func TestLogToJSON(t *testing.T) {
	tests := []struct {
		name   string
		format string
		in     string
		want   string
	}{
		// The agent's own cases.
		{"agent combined example", "combined_apache", agentCombinedLine, agentCombinedJSON},
		{"agent combined with trailing data", "combined_apache", agentCombinedLine + ` "ANY_RANDOM_DATA"`, agentCombinedJSON},
		{"agent common reads a combined line", "common_apache", agentCombinedLine, agentCommonJSON},
		{"agent common", "common_apache", `123.45.67.89 - - [27/Oct/2000:09:27:09 -0400] "GET /java/javaResources.html HTTP/1.0" 200 10450`, agentCommonJSON},
		{"agent common with hostname", "common_apache",
			`lj1036.inktomisearch.com - - [27/Oct/2000:09:27:09 -0400] "GET /java/javaResources.html HTTP/1.0" 200 10450`,
			`{"host":"lj1036.inktomisearch.com","ident":null,"authuser":null,"datetime":"27/Oct/2000:09:27:09 -0400","request":"GET /java/javaResources.html HTTP/1.0","response":"200","bytes":"10450"}`},
		{"agent apache error", "apache_error",
			`[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: /usr/local/apache2/htdocs/favicon.ico`,
			`{"timestamp":"Fri Sep 09 10:42:29.902022 2011","module":"core","severity":"error","processid":"35708","threadid":"4328636416","client":"72.15.99.187","message":"File does not exist: /usr/local/apache2/htdocs/favicon.ico"}`},
		{"agent apache error without tid", "apache_error",
			`[Fri Sep 09 10:42:29 2011] [core:error] [pid 35708] [client 72.15.99.187] File does not exist: /usr/local/apache2/htdocs/favicon.ico`,
			`{"timestamp":"Fri Sep 09 10:42:29 2011","module":"core","severity":"error","processid":"35708","threadid":null,"client":"72.15.99.187","message":"File does not exist: /usr/local/apache2/htdocs/favicon.ico"}`},
		{"agent apache error without module", "apache_error",
			`[Fri Sep 09 10:42:29.902022 2011] [error] [pid 35708:tid 4328636416] [client 72.15.99.187:12345] File does not exist: /usr/local/apache2/htdocs/favicon.ico`,
			`{"timestamp":"Fri Sep 09 10:42:29.902022 2011","module":null,"severity":"error","processid":"35708","threadid":"4328636416","client":"72.15.99.187:12345","message":"File does not exist: /usr/local/apache2/htdocs/favicon.ico"}`},
		{"agent syslog with pid", "syslog",
			`Mar 12 12:00:08 server2 rcd[308]: Loaded 12 packages in 'ximian-red-carpet|351' (0.01878 seconds) `,
			`{"timestamp":"Mar 12 12:00:08","hostname":"server2","program":"rcd","processid":"308","message":"Loaded 12 packages in 'ximian-red-carpet|351' (0.01878 seconds) "}`},
		{"agent syslog without pid", "syslog",
			`Mar 12 12:01:02 server4 snort: Ports to decode telnet on: 21 23 25 119`,
			`{"timestamp":"Mar 12 12:01:02","hostname":"server4","program":"snort","processid":null,"message":"Ports to decode telnet on: 21 23 25 119"}`},

		// Apache access beyond the agent's cases.
		{"dash status and size are null", "common_apache", `::1 - bob@x.org [01/Jan/2024:00:00:00 +0000] "-" - -`,
			`{"host":"::1","ident":null,"authuser":"bob@x.org","datetime":"01/Jan/2024:00:00:00 +0000","request":null,"response":null,"bytes":null}`},
		{"escaped quote in request", "combined_apache", `1.2.3.4 - - [d] "GET /a\"b HTTP/1.1" 404 0 "http://r/" "curl/8"`,
			`{"host":"1.2.3.4","ident":null,"authuser":null,"datetime":"d","request":"GET /a\\\"b HTTP/1.1","response":"404","bytes":"0","referer":"http://r/","agent":"curl/8"}`},
		{"CRLF line", "common_apache", "h i u [d] \"r\" 200 1\r", `{"host":"h","ident":"i","authuser":"u","datetime":"d","request":"r","response":"200","bytes":"1"}`},
		{"invalid UTF-8 replaced", "common_apache", "h\xff - - [d] \"r\" 200 1", "{\"host\":\"h\uFFFD\",\"ident\":null,\"authuser\":null,\"datetime\":\"d\",\"request\":\"r\",\"response\":\"200\",\"bytes\":\"1\"}"},
		{"nginx access", "nginx_access",
			`203.0.113.9 - alice [22/Nov/2026:05:00:00 +0100] "GET /index.html HTTP/2.0" 200 612 "-" "Mozilla/5.0" "198.51.100.7"`,
			`{"remote_addr":"203.0.113.9","remote_user":"alice","time_local":"22/Nov/2026:05:00:00 +0100","request":"GET /index.html HTTP/2.0","status":"200","body_bytes_sent":"612","http_referer":null,"http_user_agent":"Mozilla/5.0"}`},

		// Apache 2.4 error lines.
		{"apache24 with client", "apache24_error",
			`[Sun Nov 22 05:00:00.123456 2026] [proxy:error] [pid 123:tid 456] [client 10.0.0.1:5555] AH00957: HTTP: attempt to connect failed`,
			`{"timestamp":"Sun Nov 22 05:00:00.123456 2026","module":"proxy","severity":"error","processid":"123","threadid":"456","client":"10.0.0.1:5555","message":"AH00957: HTTP: attempt to connect failed"}`},
		{"apache24 without client", "apache24_error",
			`[Wed Oct 11 14:32:52.123456 2023] [mpm_event:notice] [pid 1:tid 140] AH00489: Apache/2.4.57 (Unix) configured -- resuming normal operations`,
			`{"timestamp":"Wed Oct 11 14:32:52.123456 2023","module":"mpm_event","severity":"notice","processid":"1","threadid":"140","client":null,"message":"AH00489: Apache/2.4.57 (Unix) configured -- resuming normal operations"}`},
		{"apache24 empty module, no tid", "apache24_error", `[Wed Oct 11 14:32:52 2023] [:trace1] [pid 7] x`,
			`{"timestamp":"Wed Oct 11 14:32:52 2023","module":null,"severity":"trace1","processid":"7","threadid":null,"client":null,"message":"x"}`},

		// Syslog.
		{"syslog padded day, facility, full month", "syslog", `March  2 01:02:03.5 <3.6> host postfix/smtpd[77]: connect from x`,
			`{"timestamp":"March  2 01:02:03.5","hostname":"host","program":"postfix/smtpd","processid":"77","message":"connect from x"}`},
		{"syslog empty message", "syslog", `Jan 31 23:59:59 h kernel:`,
			`{"timestamp":"Jan 31 23:59:59","hostname":"h","program":"kernel","processid":null,"message":""}`},
		{"syslog dash is text", "syslog", `Jan 1 0:00:00 - -: -`,
			`{"timestamp":"Jan 1 0:00:00","hostname":"-","program":"-","processid":null,"message":"-"}`},
		{"rfc3339 syslog", "rfc3339_syslog", `2026-11-22T05:00:00.123456+01:00 web-1 sshd[4242]: Accepted publickey for deploy`,
			`{"timestamp":"2026-11-22T05:00:00.123456+01:00","hostname":"web-1","program":"sshd","processid":"4242","message":"Accepted publickey for deploy"}`},
		{"rfc3339 syslog Z", "rfc3339_syslog", `2026-11-22T05:00:00Z h cron: job`,
			`{"timestamp":"2026-11-22T05:00:00Z","hostname":"h","program":"cron","processid":null,"message":"job"}`},

		// RFC 5424, examples from the RFC.
		{"rfc5424 example 1", "rfc5424_syslog", "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
			`{"pri":"34","version":"1","timestamp":"2003-10-11T22:14:15.003Z","hostname":"mymachine.example.com","app_name":"su","procid":null,"msgid":"ID47","structured_data":null,"message":"'su root' failed for lonvick on /dev/pts/8"}`},
		{"rfc5424 example 3", "rfc5424_syslog", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...`,
			`{"pri":"165","version":"1","timestamp":"2003-10-11T22:14:15.003Z","hostname":"mymachine.example.com","app_name":"evntslog","procid":null,"msgid":"ID47","structured_data":"[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]","message":"An application event log entry..."}`},
		{"rfc5424 example 4, no message", "rfc5424_syslog", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"][examplePriority@32473 class="high"]`,
			`{"pri":"165","version":"1","timestamp":"2003-10-11T22:14:15.003Z","hostname":"mymachine.example.com","app_name":"evntslog","procid":null,"msgid":"ID47","structured_data":"[exampleSDID@32473 iut=\"3\"][examplePriority@32473 class=\"high\"]","message":null}`},
		{"rfc5424 escapes in SD, all nil", "rfc5424_syslog", `<0>1 - - - - - [a b="x\]\"y"] -`,
			`{"pri":"0","version":"1","timestamp":null,"hostname":null,"app_name":null,"procid":null,"msgid":null,"structured_data":"[a b=\"x\\]\\\"y\"]","message":"-"}`},

		// nginx error.
		{"nginx error with context", "nginx_error",
			`2026/11/22 05:00:00 [error] 123#456: *7 open() "/srv/x" failed (2: No such file or directory), client: 10.0.0.1, server: example.com, request: "GET /x HTTP/1.1", host: "example.com"`,
			`{"timestamp":"2026/11/22 05:00:00","severity":"error","pid":"123","tid":"456","connection":"7","message":"open() \"/srv/x\" failed (2: No such file or directory)","client":"10.0.0.1","server":"example.com","request":"GET /x HTTP/1.1","upstream":null,"host":"example.com","referrer":null}`},
		{"nginx error without connection", "nginx_error", `2026/11/22 05:00:00 [notice] 1#1: signal process started`,
			`{"timestamp":"2026/11/22 05:00:00","severity":"notice","pid":"1","tid":"1","connection":null,"message":"signal process started","client":null,"server":null,"request":null,"upstream":null,"host":null,"referrer":null}`},
		{"nginx error with unknown context key keeps message", "nginx_error", `2026/11/22 05:00:00 [warn] 1#2: *3 x, client: 1.2.3.4, zone: "z"`,
			`{"timestamp":"2026/11/22 05:00:00","severity":"warn","pid":"1","tid":"2","connection":"3","message":"x, client: 1.2.3.4, zone: \"z\"","client":null,"server":null,"request":null,"upstream":null,"host":null,"referrer":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{LogToJSON: &config.LogToJSON{Format: tt.format}})
			got, keep := c.Append(nil, []byte(tt.in))
			if !keep || string(got) != tt.want {
				t.Fatalf("Append(%q)\n got  %s, %v\n want %s, true (last error %v)", tt.in, got, keep, tt.want, c.LastError())
			}
			if !json.Valid(got) {
				t.Fatalf("output %q is not valid JSON", got)
			}
		})
	}
}

func TestLogToJSONInvalid(t *testing.T) {
	tests := []struct {
		name   string
		format string
		in     string
		msg    string
	}{
		// The agent drops this one: no size.
		{"agent common without size", "common_apache", `123.45.67.89 - - [27/Oct/2000:09:27:09 -0400] "GET /java/javaResources.html HTTP/1.0" 200`, "want a space"},
		{"common non-numeric status", "common_apache", `h - - [d] "r" abc 1`, "want a status code"},
		{"common unterminated request", "common_apache", `h - - [d] "r 200 1`, "unterminated quoted field"},
		{"common no date", "common_apache", `h - - d "r" 200 1`, "want [ before the date"},
		{"combined without agent", "combined_apache", `h - - [d] "r" 200 1 "ref"`, "want a space"},
		{"empty line", "common_apache", "", "missing host, ident or authuser"},
		{"apache error needs client", "apache_error", `[Wed Oct 11 14:32:52 2023] [core:notice] [pid 1] x`, "want [client address]"},
		{"apache error needs pid", "apache24_error", `[Wed Oct 11 14:32:52 2023] [core:notice] x`, "want [pid N]"},
		{"apache error bad severity", "apache_error", `[t] [core:err or] [pid 1] [client c] x`, "want [module:severity]"},
		{"syslog bad month", "syslog", `Foo 12 12:00:08 h p: m`, "want a month"},
		{"syslog bad day", "syslog", `Mar 32 12:00:08 h p: m`, "want a day of the month"},
		{"syslog no colon", "syslog", `Mar 12 12:00:08 h p m`, "want ':' after the program"},
		{"syslog bad pid", "syslog", `Mar 12 12:00:08 h p[x]: m`, "want [pid]"},
		{"rfc3339 bad timestamp", "rfc3339_syslog", `2026-11-22 05:00:00 h p: m`, "want an RFC 3339 timestamp"},
		{"rfc5424 PRI too big", "rfc5424_syslog", `<192>1 - - - - - -`, "want <PRI> between 0 and 191"},
		{"rfc5424 bad timestamp", "rfc5424_syslog", `<1>1 yesterday h a p m -`, "want an RFC 3339 timestamp"},
		{"rfc5424 unterminated SD", "rfc5424_syslog", `<1>1 - h a p m [x a="]`, "unterminated structured data"},
		{"rfc5424 no SD", "rfc5424_syslog", `<1>1 - h a p m`, "want a space before the structured data"},
		{"nginx error bad date", "nginx_error", `2026-11-22 05:00:00 [error] 1#1: x`, "want a yyyy/mm/dd hh:mm:ss timestamp"},
		{"nginx error no pid", "nginx_error", `2026/11/22 05:00:00 [error] x`, "want pid#tid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChain(t, &config.Transform{LogToJSON: &config.LogToJSON{Format: tt.format, OnError: config.OnErrorDrop}})
			got, keep := c.Append([]byte("prev"), []byte(tt.in))
			if keep || string(got) != "prev" {
				t.Fatalf("Append(%q) = %q, %v; want the line dropped", tt.in, got, keep)
			}
			var se *SyntaxError
			if !errors.As(c.LastError(), &se) || se.Transform != "log_to_json" || se.Msg != tt.msg {
				t.Fatalf("LastError() = %v; want log_to_json: %s", c.LastError(), tt.msg)
			}
			if s := c.Stats(); s.Dropped != 1 || s.Records != 0 {
				t.Fatalf("Stats() = %+v; want 1 dropped, 0 records", s)
			}
		})
	}
}

func TestLogToJSONMatchPattern(t *testing.T) {
	// The agent's custom pattern test.
	agentPattern := `^([\d.]+) (\S+) (\S+) \[([\w:/]+\s[+\-]\d{4})\] "(.+?)" (\d{3})`
	cols := func(n int) []string {
		var s []string
		for i := 1; i <= n; i++ {
			s = append(s, "column"+string(rune('0'+i)))
		}
		return s
	}
	tests := []struct {
		name string
		cfg  config.LogToJSON
		in   string
		want string // "" means the line does not match
	}{
		{"agent custom pattern", config.LogToJSON{Format: "common_apache", MatchPattern: agentPattern, CustomFieldNames: cols(6)},
			`123.45.67.89 - - [27/Oct/2000:09:27:09 -0400] "GET /java/javaResources.html HTTP/1.0" 200`,
			`{"column1":"123.45.67.89","column2":null,"column3":null,"column4":"27/Oct/2000:09:27:09 -0400","column5":"GET /java/javaResources.html HTTP/1.0","column6":"200"}`},
		{"pattern must match the whole line", config.LogToJSON{Format: "common_apache", MatchPattern: agentPattern, CustomFieldNames: cols(6)},
			`123.45.67.89 - - [27/Oct/2000:09:27:09 -0400] "GET /java/javaResources.html HTTP/1.0" 200 10450`, ""},
		{"agent custom field names for a format", config.LogToJSON{Format: "common_apache", CustomFieldNames: cols(7)},
			`123.45.67.89 - - [27/Oct/2000:09:27:09 -0400] "GET /java/javaResources.html HTTP/1.0" 200 10450`,
			`{"column1":"123.45.67.89","column2":null,"column3":null,"column4":"27/Oct/2000:09:27:09 -0400","column5":"GET /java/javaResources.html HTTP/1.0","column6":"200","column7":"10450"}`},
		{"format's own names", config.LogToJSON{Format: "syslog", MatchPattern: `(\S+) (\S+) (\S+) (\S+)?-(.*)`},
			`a b c -`, `{"timestamp":"a","hostname":"b","program":"c","processid":null,"message":""}`},
		{"syslog keeps dashes", config.LogToJSON{Format: "syslog", MatchPattern: `(\S+) (\S+) (\S+) (\S+) (.*)`},
			`a - c d -`, `{"timestamp":"a","hostname":"-","program":"c","processid":"d","message":"-"}`},
		{"no format", config.LogToJSON{MatchPattern: `(\w+)=(\w*)`, CustomFieldNames: []string{"k", "v"}},
			`x=-`, ""},
		{"no format, no dash nulls", config.LogToJSON{MatchPattern: `(\w+)=(.*)`, CustomFieldNames: []string{"k", "v"}},
			`x=-`, `{"k":"x","v":"-"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.OnError = config.OnErrorDrop
			c := mustChain(t, &config.Transform{LogToJSON: &cfg})
			got, keep := c.Append(nil, []byte(tt.in))
			if tt.want == "" {
				if keep {
					t.Fatalf("Append(%q) = %s; want the line dropped", tt.in, got)
				}
				return
			}
			if !keep || string(got) != tt.want {
				t.Fatalf("Append(%q)\n got  %s, %v\n want %s (last error %v)", tt.in, got, keep, tt.want, c.LastError())
			}
		})
	}
}

func TestLogToJSONConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.LogToJSON
		want string
	}{
		{"unknown format", config.LogToJSON{Format: "w3c"}, `unknown format "w3c"`},
		{"nothing set", config.LogToJSON{}, "format is required"},
		{"bad pattern", config.LogToJSON{MatchPattern: `(`, CustomFieldNames: []string{"a"}}, "match_pattern:"},
		{"pattern that only wrapping makes valid", config.LogToJSON{MatchPattern: `a)|(b`, CustomFieldNames: []string{"a"}}, "match_pattern:"},
		{"group count", config.LogToJSON{Format: "syslog", MatchPattern: `(a)`}, "5 field names for match_pattern with 1 groups"},
		{"pattern without names", config.LogToJSON{MatchPattern: `(a)`}, "needs custom_field_names"},
		{"custom names count", config.LogToJSON{Format: "syslog", CustomFieldNames: []string{"a"}}, "format syslog has 5 fields, not 1"},
		{"duplicate names", config.LogToJSON{MatchPattern: `(a)(b)`, CustomFieldNames: []string{"x", "x"}}, `duplicate field name "x"`},
		{"bad on_error", config.LogToJSON{Format: "syslog", OnError: "ignore"}, `on_error "ignore"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			_, err := New([]*config.Transform{{LogToJSON: &cfg}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() error = %v; want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLogToJSONOnError(t *testing.T) {
	line := []byte("not a log line")
	tests := []struct {
		policy string
		want   string
	}{
		{config.OnErrorPass, "not a log line"},
		{config.OnErrorWrap, `{"raw":"not a log line","error":"log_to_json: want a month at offset 0"}`},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			c := mustChain(t, &config.Transform{LogToJSON: &config.LogToJSON{Format: "syslog", OnError: tt.policy}})
			got, keep := c.Append(nil, line)
			if !keep || string(got) != tt.want {
				t.Fatalf("Append = %s, %v; want %s, true", got, keep, tt.want)
			}
		})
	}
}

// Lines each format parses, for the allocation test and fuzz seeds.
var logFormatSamples = map[string]string{
	"common_apache":   agentCombinedLine,
	"combined_apache": agentCombinedLine,
	"nginx_access":    agentCombinedLine,
	"apache_error":    `[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: /x`,
	"apache24_error":  `[Wed Oct 11 14:32:52.123456 2023] [mpm_event:notice] [pid 1:tid 140] AH00489: resuming normal operations`,
	"syslog":          `Mar 12 12:00:08 server2 rcd[308]: Loaded 12 packages`,
	"rfc3339_syslog":  `2026-11-22T05:00:00Z h cron[1]: job`,
	"rfc5424_syslog":  `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event`,
	"nginx_error":     `2026/11/22 05:00:00 [error] 123#456: *7 failed, client: 10.0.0.1, server: example.com, request: "GET /x HTTP/1.1", host: "example.com"`,
}

func TestLogToJSONAllocs(t *testing.T) {
	for _, format := range config.LogFormats {
		t.Run(format, func(t *testing.T) {
			line, ok := logFormatSamples[format]
			if !ok {
				t.Fatalf("no sample line for format %s", format)
			}
			c := mustChain(t, &config.Transform{LogToJSON: &config.LogToJSON{Format: format}})
			buf := make([]byte, 0, 4096)
			in := []byte(line)
			allocs := testing.AllocsPerRun(100, func() {
				var keep bool
				buf, keep = c.Append(buf[:0], in)
				if !keep || c.Stats().Invalid != 0 {
					t.Fatalf("%s rejected %q: %v", format, line, c.LastError())
				}
			})
			if allocs != 0 {
				t.Fatalf("%s: %v allocations per line, want 0", format, allocs)
			}
		})
	}
}

func FuzzLogToJSON(f *testing.F) {
	for _, line := range logFormatSamples {
		f.Add(line)
	}
	f.Add("")
	f.Add(`<1>1 - - - - - [a b="\"][c]`)
	f.Add(`2026/11/22 05:00:00 [error] 1#1: , client: "`)
	chains := make([]*Chain, 0, len(config.LogFormats)+1)
	for _, format := range config.LogFormats {
		chains = append(chains, mustChainF(f, &config.Transform{LogToJSON: &config.LogToJSON{Format: format, OnError: config.OnErrorDrop}}))
	}
	chains = append(chains, mustChainF(f, &config.Transform{LogToJSON: &config.LogToJSON{
		Format: "common_apache", MatchPattern: `(\S+) (\S+) (\S+) \[(.*?)\] "(.*)" (\d+|-) (\d+|-).*`}}))
	f.Fuzz(func(t *testing.T, line string) {
		for i, c := range chains {
			got, keep := c.Append(nil, []byte(line))
			if keep && !json.Valid(got) {
				t.Fatalf("chain %d: Append(%q) = %q: not valid JSON", i, line, got)
			}
			if !keep && c.LastError() == nil {
				t.Fatalf("chain %d: Append(%q) dropped the line without an error", i, line)
			}
		}
	})
}
