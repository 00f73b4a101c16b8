#!/bin/sh
# Prints the package version of the checked-out commit, for `make package`:
#   X.Y.Z                           the commit is tagged vX.Y.Z
#   X.Y.Z+gitYYYYMMDDhhmmss.HASH    a later commit (0.0.0 before the first tag),
#                                   stamped with its commit time in UTC
# with ".dirty" appended when tracked files differ from the commit. Each is a
# valid semantic version, and later commits sort after earlier ones for dpkg
# and rpm alike.
set -eu
head=$(git rev-parse HEAD)
tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)
base=${tag#v}
if [ -n "$tag" ] && [ "$(git rev-list -n 1 "$tag")" = "$head" ]; then
	version=$base
else
	stamp=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S "$head")
	version="${base:-0.0.0}+git$stamp.$(git rev-parse --short=12 "$head")"
fi
if ! git diff --quiet HEAD -- 2>/dev/null; then
	case $version in
	*+*) version="$version.dirty" ;;
	*) version="$version+dirty" ;;
	esac
fi
echo "$version"
