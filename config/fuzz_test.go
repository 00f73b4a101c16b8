package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that any input either loads or fails with Errors, never
// panics, and that a loaded config can be summarised.
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
	env := func(k string) (string, bool) {
		if k == "SET" {
			return "value", true
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
