#!/bin/sh
# Writes the packages' copyright file to stdout: kinetail's own notice, then
# the license and notice files of the Go standard library and of every
# module linked into the kinetail binary (it is statically linked, so their
# terms travel with it). Run from the module root; the order is stable.
# Usage: copyright.sh [--debian]
# --debian: the full text of the Apache License 2.0 is replaced by a pointer
# to /usr/share/common-licenses/Apache-2.0, as Debian asks; the .rpm carries
# every text in full.
set -eu
GO=${GO:-go}
debian=
if [ "${1:-}" = --debian ]; then debian=1; fi
# license FILE: prints FILE, for --debian without the Apache License 2.0 text
# (from its title to the end of its terms, and the appendix after them).
license() {
	if [ -z "$debian" ]; then
		cat "$1"
		return
	fi
	awk '
	state == "skip" {
		if ($0 ~ /END OF TERMS AND CONDITIONS/) state = "after"
		next
	}
	state == "after" && /^[ \t]*$/ { next }
	state == "after" && /APPENDIX: How to apply the Apache License/ { state = "appendix"; next }
	state == "appendix" {
		if ($0 ~ /limitations under the License\./) state = ""
		next
	}
	state == "after" { print ""; state = "" }
	held != "" {
		if ($0 ~ /Version 2\.0, January 2004/) {
			print "Licensed under the Apache License, Version 2.0. On Debian systems its"
			print "complete text is in /usr/share/common-licenses/Apache-2.0."
			held = ""
			state = "skip"
			next
		}
		print held
		held = ""
	}
	/^[ \t]*Apache License[ \t]*$/ { held = $0; next }
	{ print }
	END { if (held != "") print held }
	' "$1"
}
cat <<'HEAD'
kinetail: follow log files and send them to Amazon Kinesis
Source: https://github.com/kinetail/kinetail

Copyright: the kinetail authors.
License: the kinetail source tree does not state a license yet.

The kinetail binary is statically linked with the Go standard library and
with the Go modules below. Each one's license and notice files follow, as
published with the version that was linked.
HEAD
section() {
	printf '\n%s\n' "------------------------------------------------------------------------"
	printf '%s\n\n' "$1"
}
goroot=$("$GO" env GOROOT)
section "Go standard library and runtime ($("$GO" env GOVERSION))"
license "$goroot/LICENSE"
"$GO" list -deps -f '{{if and .Module (not .Module.Main)}}{{.Module.Path}} {{.Module.Version}} {{.Module.Dir}}{{end}}' ./cmd/agent |
	sort -u | while read -r path version dir; do
		section "$path $version"
		found=
		for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/NOTICE*; do
			[ -f "$f" ] || continue
			license "$f"
			echo
			found=1
		done
		if [ -z "$found" ]; then
			echo "copyright.sh: no license file in $dir" >&2
			exit 1
		fi
	done
