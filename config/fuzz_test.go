package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that any input either loads or fails with Errors, never
// panics, and that a loaded config can be summarised. Every error has a
// line and a column and shows only printable characters, and a variable's
// value never appears in an error.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/good/*.yaml", "testdata/bad/*.yaml", "../config.example.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("a: &a {<<: *a}\n"))
	f.Add([]byte("destinations: {d: &d {<<: [*d, *d]}}\n"))
	f.Add([]byte("flows: [&f {transforms: [*f]}]\n"))
	f.Add([]byte("agent: {log_level: '${SECRET}'}\nflows:\n  - name: ${SECRET}\n"))
	f.Add([]byte("a: \xff\x01\n*b\n"))
	// The secret is one no message could hold by chance.
	const secret = "Zq9SECRETvalue"
	env := func(k string) (string, bool) {
		switch k {
		case "SET":
			return "value", true
		case "SECRET":
			return secret, true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("fuzz.yaml", data, env)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a non-empty Errors: %#v", err)
			}
			if c != nil {
				t.Fatal("config returned with an error")
			}
			checkErrors(t, err)
			if strings.Contains(err.Error(), secret) && !bytes.Contains(data, []byte(secret)) {
				t.Fatalf("an error shows the value of a variable:\n%v", err)
			}
			return
		}
		if len(c.Flows) == 0 || len(c.Destinations) == 0 {
			t.Fatalf("loaded a config without flows or destinations")
		}
		for _, fl := range c.Flows {
			if (fl.Destination == "" && len(fl.Routes) == 0) || (fl.Destination != "" && c.Destination(fl.Destination) == nil) || fl.MaxLineBytes < 1 {
				t.Fatalf("flow %q not fully resolved: %+v", fl.Name, fl)
			}
			for _, r := range fl.Routes {
				for _, name := range r.To {
					if c.Destination(name) == nil {
						t.Fatalf("flow %q routes to the undefined destination %q", fl.Name, name)
					}
				}
			}
		}
		_ = c.Summary()
	})
}
