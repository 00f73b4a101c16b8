#!/bin/sh
# Writes nfpm's changelog (the chglog YAML format) for a package built from
# the checked-out commit: one entry, the package's version, dated with the
# commit's time. nfpm turns it into the .deb's changelog.Debian.gz and the
# .rpm's %changelog.
# Usage: changelog.sh VERSION-RELEASE MAINTAINER
set -eu
[ $# -eq 2 ] || { echo "usage: $0 VERSION-RELEASE MAINTAINER" >&2; exit 2; }
commit=$(git rev-parse HEAD)
date=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ "$commit")
cat <<EOT
- semver: "$1"
  date: $date
  packager: "$2"
  deb:
    urgency: low
    distributions: [stable]
  changes:
    - commit: $commit
      note: "Snapshot of commit $(git rev-parse --short=12 "$commit") (see the git history)."
EOT
