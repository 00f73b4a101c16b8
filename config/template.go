package config

import (
	"errors"
	"strings"
)

// Template is a value that names fields of the record, like app-%{service}.
// Its text alternates between literal parts and field names:
// Literals has one more element than Fields, and the value is
// Literals[0] + field(Fields[0]) + Literals[1] + …
//
// Record fields use %{…} because ${…} is already taken by environment
// variables, which are expanded when the file is loaded. A literal "%{" is
// written "%%{".
type Template struct {
	Literals []string
	Fields   []string
}

// IsTemplate reports whether s names at least one field.
func IsTemplate(s string) bool {
	t, err := ParseTemplate(s)
	return err == nil && len(t.Fields) > 0
}

// ParseTemplate splits s into literal parts and field names.
func ParseTemplate(s string) (Template, error) {
	var t Template
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "%%{"):
			lit.WriteString("%{")
			i += 2
		case strings.HasPrefix(s[i:], "%{"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return Template{}, errors.New("unterminated %{: expected %{field}")
			}
			name := s[i+2 : i+end]
			if name == "" || strings.ContainsAny(name, "%{") {
				return Template{}, errors.New("invalid field name in %{" + name + "}")
			}
			t.Literals = append(t.Literals, lit.String())
			t.Fields = append(t.Fields, name)
			lit.Reset()
			i += end
		default:
			lit.WriteByte(s[i])
		}
	}
	t.Literals = append(t.Literals, lit.String())
	return t, nil
}
