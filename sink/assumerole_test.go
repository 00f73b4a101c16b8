package sink

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kinetail/kinetail/internal/kinesistest"
)

// assumeRoleCall is what the STS test server was asked.
type assumeRoleCall struct {
	action, roleARN, session string
	externalID               []string // the ExternalId values sent; none when absent
	signedBy                 string   // the Authorization header
}

// startSTS serves AssumeRole on a loopback port, granting assumedKey, and
// records each call.
func startSTS(t *testing.T, assumedKey string) (url string, calls func() []assumeRoleCall) {
	t.Helper()
	var mu sync.Mutex
	var got []assumeRoleCall
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, assumeRoleCall{
			action:     r.PostForm.Get("Action"),
			roleARN:    r.PostForm.Get("RoleArn"),
			session:    r.PostForm.Get("RoleSessionName"),
			externalID: r.PostForm["ExternalId"],
			signedBy:   r.Header.Get("Authorization"),
		})
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		// The credentials stay valid past the test, so they are fetched
		// once.
		expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		_, _ = w.Write([]byte(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
			`<Credentials><AccessKeyId>` + assumedKey + `</AccessKeyId><SecretAccessKey>assumed-secret</SecretAccessKey>` +
			`<SessionToken>assumed-token</SessionToken><Expiration>` + expires + `</Expiration></Credentials>` +
			`<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/kinetail/kinetail-test</Arn>` +
			`<AssumedRoleId>AROATEST:kinetail-test</AssumedRoleId></AssumedRoleUser>` +
			`</AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []assumeRoleCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]assumeRoleCall(nil), got...)
	}
}

// TestAssumeRole checks that a destination with role_arn assumes the role
// through STS, signed with the SDK chain's credentials, sends
// role_external_id as the ExternalId only when it is set, and then uses the
// role's credentials for the stream.
func TestAssumeRole(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/kinetail"
	tests := []struct {
		name       string
		externalID string
		want       []string // ExternalId values STS must get
	}{
		{"with an external id", "tenant=7,eu@example.com/logs:a_b+c.d-e", []string{"tenant=7,eu@example.com/logs:a_b+c.d-e"}},
		{"without one", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stsURL, calls := startSTS(t, "ASIAASSUMED")
			// The SDK's own way to reach STS elsewhere; the destination's
			// endpoint is for the stream only.
			t.Setenv("AWS_ENDPOINT_URL_STS", stsURL)
			srv := kinesistest.NewFaultServer(t, kinesistest.FaultOptions{Streams: []string{testStream}})
			d := testDestination(srv.URL())
			d.RoleARN, d.RoleExternalID = role, tt.externalID
			k, err := NewKinesis(context.Background(), d, Options{
				credentials: credentials.NewStaticCredentialsProvider("AKIDBASE", "base-secret", ""),
			})
			if err != nil {
				t.Fatalf("NewKinesis: %v", err)
			}
			if err := k.Check(context.Background()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			creds, err := k.creds.Retrieve(context.Background())
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			if creds.AccessKeyID != "ASIAASSUMED" || creds.SessionToken != "assumed-token" {
				t.Errorf("the stream's credentials are %q (token %q), want the role's", creds.AccessKeyID, creds.SessionToken)
			}
			got := calls()
			if len(got) != 1 {
				t.Fatalf("STS got %d calls, want 1 AssumeRole: %+v", len(got), got)
			}
			c := got[0]
			if c.action != "AssumeRole" || c.roleARN != role || c.session != "kinetail-"+d.Name {
				t.Errorf("STS got %s of %q as %q, want AssumeRole of %q as %q", c.action, c.roleARN, c.session, role, "kinetail-"+d.Name)
			}
			if !slices.Equal(c.externalID, tt.want) {
				t.Errorf("ExternalId = %q, want %q", c.externalID, tt.want)
			}
			if !strings.Contains(c.signedBy, "Credential=AKIDBASE/") {
				t.Errorf("AssumeRole signed as %q, want with the chain's key AKIDBASE", c.signedBy)
			}
		})
	}
}
