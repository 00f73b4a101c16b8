// Package config owns kinetail's YAML schema: the types, their defaults, and
// strict loading and validation. Every problem is reported with the file,
// line and column it comes from, all at once.
//
// Loading happens in three steps, all in this package:
//
//  1. Environment expansion on the raw text: ${VAR} and ${VAR:-default} are
//     replaced, $$ is a literal $. Lines that are only a comment are left
//     alone. Expansion never adds or removes lines, so line numbers stay true.
//  2. Strict decoding from yaml.Node: unknown and duplicate keys, wrong types
//     and malformed durations or sizes are errors, each at its line:column.
//     Anchors, aliases and merge keys (<<) work as in YAML; top-level keys
//     starting with "x-" are ignored so they can hold shared anchors.
//  3. Defaults (documented on each field) and validation of values and of
//     references between destinations and flows.
//
// Every default lives in config.go: the values decoding starts from, and
// the constants behind the defaults that depend on other values, filled in
// by validation. The services' own limits, which validation enforces and
// the sink obeys, are in internal/awslimits.
//
// A Config returned without error is complete: every default is filled in,
// and the rest of the agent never needs to check it again.
package config
