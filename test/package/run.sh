#!/usr/bin/env bash
# The package test (make test-package, part of make test). On a Debian
# machine, as root:
#
#   1. builds the amd64 .deb and .rpm three times: twice from the checked-out
#      commit (the two must be the same bytes) and once more with a higher
#      version, to upgrade to;
#   2. checks them without installing: contents with owners and modes,
#      conffiles, metadata, scripts, lintian and rpmlint (no errors);
#   3. installs the .deb with dpkg on this machine and checks what it did:
#      files, user and group, state directory, `kinetail version` and
#      `kinetail check` (as the service user too), the unit enabled and not
#      started, systemd-analyze verify and security (with and without the
#      capability drop-in); then upgrades (edited configuration kept, an
#      administrator's disable kept), removes and purges (nothing left);
#   4. does the same with the .rpm (rpm's own database in a temporary
#      directory): install, upgrade, erase.
#
# Whatever it changed on the machine is undone when it exits, even on
# failure. It refuses to run if kinetail (package, user, files) is already
# on the machine: a purge would take that away.
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
start=$SECONDS

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "== $*"; }
# expect WHAT WANT GOT
expect() {
	if [ "$2" != "$3" ]; then
		printf 'FAIL: %s\n--- want\n%s\n--- got\n%s\n' "$1" "$2" "$3" >&2
		exit 1
	fi
}

# --- prerequisites ---------------------------------------------------------

[ "$(id -u)" = 0 ] || fail "the package test installs the .deb on this machine: run it as root (sudo make test-package)"
missing=
for c in dpkg dpkg-deb lintian rpm rpmlint systemd-analyze systemctl setpriv; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
[ -z "$missing" ] || fail "needs$missing; on Debian: apt-get install -y dpkg-dev lintian rpm rpmlint systemd util-linux"

# The paths the packages own or make, and the enable symlinks.
paths=(/usr/bin/kinetail /etc/kinetail /etc/default/kinetail
	/lib/systemd/system/kinetail.service /usr/lib/systemd/system/kinetail.service
	/usr/share/kinetail /usr/share/doc/kinetail /usr/share/licenses/kinetail
	/usr/share/lintian/overrides/kinetail /var/lib/kinetail
	/etc/systemd/system/kinetail.service.d)
enable_links() { find /etc/systemd/system -name kinetail.service -type l 2>/dev/null; }

status=$(dpkg-query -W -f='${db:Status-Status}' kinetail 2>/dev/null || true)
case $status in
"" | not-installed) ;;
*) fail "the kinetail package is on this machine ($status): the package test would purge it; run it elsewhere" ;;
esac
# `kinetail check` run as root with the default checkpoint path (the unit
# tests do, before this test in make test) leaves an empty /var/lib/kinetail:
# that one is put back as it was at the end.
statedir_was=
if [ -d /var/lib/kinetail ] && [ ! -L /var/lib/kinetail ] && [ -z "$(ls -A /var/lib/kinetail)" ]; then
	statedir_was=$(stat -c '%a %u:%g' /var/lib/kinetail)
fi
for p in "${paths[@]}"; do
	[ "$p" = /var/lib/kinetail ] && [ -n "$statedir_was" ] && continue
	if [ -e "$p" ] || [ -L "$p" ]; then
		fail "$p exists: the package test would remove it; run it on a machine without kinetail"
	fi
done
[ -z "$(enable_links)" ] || fail "kinetail.service is enabled on this machine: run the package test elsewhere"
getent passwd kinetail >/dev/null && fail "the user kinetail exists: the package test would delete it; run it elsewhere"
getent group kinetail >/dev/null && fail "the group kinetail exists: the package test would delete it; run it elsewhere"

tmp=$(mktemp -d)
rpmdb=$tmp/rpmdb
cleanup() {
	local rc=$?
	set +e
	if [ -n "$(dpkg-query -W -f='${db:Status-Status}' kinetail 2>/dev/null | grep -v not-installed)" ]; then
		dpkg --purge kinetail >/dev/null 2>&1 || dpkg --purge --force-all kinetail >/dev/null 2>&1
	fi
	if [ -d "$rpmdb" ] && rpm --dbpath "$rpmdb" -q kinetail >/dev/null 2>&1; then
		rpm --dbpath "$rpmdb" -e --allmatches kinetail >/dev/null 2>&1 ||
			rpm --dbpath "$rpmdb" -e --allmatches --noscripts kinetail >/dev/null 2>&1
	fi
	# Whatever a failed script left behind.
	for p in "${paths[@]}"; do rm -rf "$p"; done
	enable_links | xargs -r rm -f
	getent passwd kinetail >/dev/null && userdel kinetail
	getent group kinetail >/dev/null && groupdel kinetail
	rm -rf "$tmp"
	if [ -n "$statedir_was" ]; then
		mkdir -m "${statedir_was% *}" /var/lib/kinetail && chown "${statedir_was#* }" /var/lib/kinetail
	fi
	if [ $rc -eq 0 ]; then
		echo "package test: ok ($((SECONDS - start)) s)"
	else
		echo "package test: FAILED (the machine was cleaned up)" >&2
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
if [ -n "$statedir_was" ]; then rmdir /var/lib/kinetail; fi

# No kinetail of the package may run during the test (it is never started).
running() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = /usr/bin/kinetail ] && return 0
	done
	return 1
}

# --- build -----------------------------------------------------------------

step "build: amd64 and arm64, amd64 again (the same bytes), amd64 with a higher version"
make -s package GO="$GO" PKG_ARCHS="amd64 arm64" DIST="$tmp/v1" >/dev/null
make -s package GO="$GO" PKG_ARCHS=amd64 DIST="$tmp/again" >/dev/null
deb1=$(echo "$tmp"/v1/kinetail_*_amd64.deb)
rpm1=$(echo "$tmp"/v1/kinetail-*.x86_64.rpm)
[ -f "$deb1" ] && [ -f "$rpm1" ] || fail "make package made no .deb or .rpm: $(ls "$tmp/v1")"
v1=$(dpkg-deb -f "$deb1" Version)
v1=${v1%-1}
expect "package version" "$(sh packaging/version.sh)" "$v1"
for f in "$deb1" "$rpm1"; do
	cmp "$f" "$tmp/again/$(basename "$f")" || fail "two builds of one commit differ: $(basename "$f")"
done
case $v1 in
*+*) v2=$v1.upgrade ;;
*) v2=$v1+upgrade ;;
esac
make -s package GO="$GO" PKG_ARCHS=amd64 DIST="$tmp/v2" PKG_VERSION="$v2" >/dev/null
deb2=$(echo "$tmp"/v2/kinetail_*_amd64.deb)
rpm2=$(echo "$tmp"/v2/kinetail-*.x86_64.rpm)
dpkg --compare-versions "$v2-1" gt "$v1-1" || fail "$v2 does not sort after $v1 for dpkg"
echo "   $v1 (reproducible), then $v2"

# --- the .deb, unopened ----------------------------------------------------

step "deb: metadata, contents, conffiles, lintian"
expect "deb fields" "kinetail $v1-1 amd64 admin passwd" \
	"$(dpkg-deb -f "$deb1" Package Version Architecture Section Depends | sed 's/^[^:]*: //' | tr '\n' ' ' | sed 's/ $//')"
expect "deb contents (mode, owner, path)" "$(
	cat <<'EOF'
drwxr-xr-x 0/0 ./etc/
drwxr-xr-x 0/0 ./etc/default/
-rw-r--r-- 0/0 ./etc/default/kinetail
drwxr-xr-x 0/0 ./etc/kinetail/
-rw-r--r-- 0/0 ./etc/kinetail/kinetail.yaml
drwxr-xr-x 0/0 ./lib/
drwxr-xr-x 0/0 ./lib/systemd/
drwxr-xr-x 0/0 ./lib/systemd/system/
-rw-r--r-- 0/0 ./lib/systemd/system/kinetail.service
drwxr-xr-x 0/0 ./usr/
drwxr-xr-x 0/0 ./usr/bin/
-rwxr-xr-x 0/0 ./usr/bin/kinetail
drwxr-xr-x 0/0 ./usr/share/
drwxr-xr-x 0/0 ./usr/share/doc/
drwxr-xr-x 0/0 ./usr/share/doc/kinetail/
-rw-r--r-- 0/0 ./usr/share/doc/kinetail/README.md
-rw-r--r-- 0/0 ./usr/share/doc/kinetail/changelog.Debian.gz
-rw-r--r-- 0/0 ./usr/share/doc/kinetail/config.example.yaml
-rw-r--r-- 0/0 ./usr/share/doc/kinetail/copyright
drwxr-xr-x 0/0 ./usr/share/kinetail/
-rw-r--r-- 0/0 ./usr/share/kinetail/read-all-logs.conf
drwxr-xr-x 0/0 ./usr/share/lintian/
drwxr-xr-x 0/0 ./usr/share/lintian/overrides/
-rw-r--r-- 0/0 ./usr/share/lintian/overrides/kinetail
EOF
)" "$(dpkg-deb --fsys-tarfile "$deb1" | tar -tv --numeric-owner | awk '{print $1, $2, $6}' | sort -k3)"
expect "deb conffiles" "/etc/default/kinetail
/etc/kinetail/kinetail.yaml" "$(dpkg-deb -I "$deb1" conffiles | sort)"
expect "deb maintainer scripts" "postinst postrm prerm" "$(dpkg-deb --ctrl-tarfile "$deb1" | tar -t | sed -n 's|^\./\(p[a-z]*\)$|\1|p' | sort | tr '\n' ' ' | sed 's/ $//')"
lintian_out=$(lintian --tag-display-limit 0 "$deb1" 2>&1) || {
	echo "$lintian_out"
	fail "lintian failed"
}
if grep -q '^E:' <<<"$lintian_out"; then
	echo "$lintian_out"
	fail "lintian reports errors"
fi
echo "   lintian: 0 errors, $(grep -c '^W:' <<<"$lintian_out" || true) warnings"

# The arm64 packages: the same, for the other architecture (a binary of the
# wrong one is a lintian error; the ELF header says which it is).
step "arm64: metadata, binary, lintian, rpmlint"
deb_arm=$(echo "$tmp"/v1/kinetail_*_arm64.deb)
rpm_arm=$(echo "$tmp"/v1/kinetail-*.aarch64.rpm)
expect "arm64 deb architecture" "arm64" "$(dpkg-deb -f "$deb_arm" Architecture)"
expect "arm64 rpm architecture" "aarch64" "$(rpm -qp --qf '%{ARCH}' "$rpm_arm" 2>/dev/null)"
# e_machine, bytes 18-19 of the ELF header: 183 is AArch64.
dpkg-deb -x "$deb_arm" "$tmp/arm64"
expect "arm64 binary machine" "183" "$(od -An -tu2 -j18 -N2 "$tmp/arm64/usr/bin/kinetail" | tr -d ' ')"
out=$(lintian --tag-display-limit 0 "$deb_arm" 2>&1) || fail "lintian (arm64): $out"
if grep -q '^E:' <<<"$out"; then fail "lintian (arm64) reports errors: $out"; fi
out=$(rpmlint -r packaging/rpmlintrc "$rpm_arm" 2>&1) || fail "rpmlint (arm64): $out"
grep -q ' 0 errors' <<<"$out" || fail "rpmlint (arm64) reports errors: $out"

# --- the .rpm, unopened ----------------------------------------------------

step "rpm: metadata, files, config files, scripts, rpmlint"
q() { rpm -qp "$@" 2>/dev/null; }
expect "rpm metadata" "kinetail $v1 1 x86_64 linux https://github.com/kinetail/kinetail reproducible" \
	"$(q --qf '%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{OS} %{URL} %{BUILDHOST}' "$rpm1")"
expect "rpm files (mode, owner, group, path)" "$(
	cat <<'EOF'
-rw-r--r-- root root /etc/default/kinetail
drwxr-xr-x root root /etc/kinetail
-rw-r--r-- root root /etc/kinetail/kinetail.yaml
-rwxr-xr-x root root /usr/bin/kinetail
-rw-r--r-- root root /usr/lib/systemd/system/kinetail.service
-rw-r--r-- root root /usr/share/doc/kinetail/README.md
-rw-r--r-- root root /usr/share/doc/kinetail/config.example.yaml
-rw-r--r-- root root /usr/share/kinetail/read-all-logs.conf
-rw-r--r-- root root /usr/share/licenses/kinetail/copyright
EOF
)" "$(q --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]' "$rpm1" | sort -k4)"
# c: config, n: noreplace (an edited file is kept, the new one is .rpmnew);
# d: documentation, l: license.
expect "rpm file flags" "cn /etc/default/kinetail
cn /etc/kinetail/kinetail.yaml
d /usr/share/doc/kinetail/README.md
d /usr/share/doc/kinetail/config.example.yaml
l /usr/share/licenses/kinetail/copyright" \
	"$(q --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm1" | grep -v '^ ' | sort -k2)"
expect "rpm requires" "shadow-utils" "$(q --requires "$rpm1" | grep -v '^rpmlib(')"
scripts=$(q --scripts "$rpm1")
for s in postinstall:postinstall preuninstall:preremove postuninstall:postremove; do
	want=$(cat "packaging/scripts/${s#*:}.sh")
	got=$(awk -v name="${s%%:*}" '
		/^[a-z]+ scriptlet \(using / { on = ($1 == name); next }
		on { print }' <<<"$scripts")
	expect "rpm %${s%%:*} scriptlet" "$want" "$got"
done
grep -E '^(preinstall|pretrans|posttrans) scriptlet' <<<"$scripts" && fail "rpm has a scriptlet it should not have"
rpmlint_out=$(rpmlint -r packaging/rpmlintrc "$rpm1" 2>&1) || {
	echo "$rpmlint_out"
	fail "rpmlint failed"
}
grep -q ' 0 errors' <<<"$rpmlint_out" || {
	echo "$rpmlint_out"
	fail "rpmlint reports errors"
}
echo "   rpmlint: $(grep -o '[0-9]* errors, [0-9]* warnings' <<<"$rpmlint_out")"

# --- the .deb, installed ---------------------------------------------------

step "deb: first install"
dpkg -i "$deb1" >"$tmp/dpkg.log" 2>&1 || {
	cat "$tmp/dpkg.log"
	fail "dpkg -i"
}
expect "dpkg status" "install ok installed $v1-1" "$(dpkg-query -W -f='${Status} ${Version}' kinetail)"
check_files() {
	expect "$1: installed files (mode, owner, path)" "$(
		cat <<'EOF'
drwxr-xr-x root:root /etc/kinetail
-rw-r--r-- root:root /etc/default/kinetail
-rw-r--r-- root:root /etc/kinetail/kinetail.yaml
-rw-r--r-- root:root /lib/systemd/system/kinetail.service
-rwxr-xr-x root:root /usr/bin/kinetail
-rw-r--r-- root:root /usr/share/doc/kinetail/README.md
-rw-r--r-- root:root /usr/share/doc/kinetail/changelog.Debian.gz
-rw-r--r-- root:root /usr/share/doc/kinetail/config.example.yaml
-rw-r--r-- root:root /usr/share/doc/kinetail/copyright
-rw-r--r-- root:root /usr/share/kinetail/read-all-logs.conf
-rw-r--r-- root:root /usr/share/lintian/overrides/kinetail
drwxr-x--- kinetail:kinetail /var/lib/kinetail
EOF
	)" "$(stat -c '%A %U:%G %n' /etc/kinetail /etc/default/kinetail /etc/kinetail/kinetail.yaml \
		/lib/systemd/system/kinetail.service /usr/bin/kinetail /usr/share/doc/kinetail/* \
		/usr/share/kinetail/read-all-logs.conf /usr/share/lintian/overrides/kinetail /var/lib/kinetail)"
}
check_files "install"
for f in packaging/kinetail.yaml:/etc/kinetail/kinetail.yaml packaging/default:/etc/default/kinetail \
	systemd/kinetail.service:/lib/systemd/system/kinetail.service \
	packaging/read-all-logs.conf:/usr/share/kinetail/read-all-logs.conf; do
	cmp "${f%%:*}" "${f#*:}" || fail "${f#*:} is not ${f%%:*}"
done

IFS=: read -r _ _ uid gid _ home shell < <(getent passwd kinetail) || fail "no user kinetail"
[ "$uid" -lt 1000 ] || fail "kinetail is not a system user (uid $uid)"
expect "kinetail's primary group" "kinetail" "$(getent group "$gid" | cut -d: -f1)"
[ "$gid" -lt 1000 ] || fail "kinetail is not a system group (gid $gid)"
expect "kinetail's home" "/nonexistent" "$home"
[ ! -e "$home" ] || fail "kinetail's home $home exists"
case $shell in */nologin | /bin/false) ;; *) fail "kinetail has a login shell: $shell" ;; esac
if getent group adm >/dev/null; then
	id -nG kinetail | tr ' ' '\n' | grep -qx adm || fail "kinetail is not in adm: $(id -nG kinetail)"
fi

commit=$(git rev-parse HEAD)
expect "kinetail version" "kinetail $v1 (commit $commit)" "$(/usr/bin/kinetail version)"
/usr/bin/kinetail check -c /etc/kinetail/kinetail.yaml >"$tmp/check.log" 2>&1 || {
	cat "$tmp/check.log"
	fail "kinetail check on the shipped configuration"
}
# As the service runs it: the user reads the configuration and writes state.
setpriv --reuid=kinetail --regid=kinetail --init-groups \
	/usr/bin/kinetail check -c /etc/kinetail/kinetail.yaml >"$tmp/check.log" 2>&1 || {
	cat "$tmp/check.log"
	fail "kinetail check as the user kinetail"
}
expect "unit after install" "enabled" "$(systemctl is-enabled kinetail.service 2>&1 || true)"
expect "enable symlink" "/etc/systemd/system/multi-user.target.wants/kinetail.service -> /lib/systemd/system/kinetail.service" \
	"$(enable_links | while read -r l; do echo "$l -> $(readlink "$l")"; done)"
running && fail "kinetail was started by the install"
if [ -d /run/systemd/system ]; then
	expect "unit state after install" "inactive" "$(systemctl is-active kinetail.service || true)"
fi

step "unit: systemd-analyze verify and security"
out=$(systemd-analyze verify /lib/systemd/system/kinetail.service 2>&1) || fail "systemd-analyze verify: $out"
expect "systemd-analyze verify output" "" "$out"
exposure() {
	systemd-analyze security --offline=yes "$@" 2>&1 |
		sed -n 's/^→ Overall exposure level for kinetail.service: \([0-9.]*\).*/\1/p'
}
score=$(exposure /lib/systemd/system/kinetail.service)
[ -n "$score" ] || fail "no exposure level from systemd-analyze security"
systemd-analyze security --offline=yes --threshold=20 /lib/systemd/system/kinetail.service >/dev/null 2>&1 ||
	fail "exposure $score is above 2.0"
echo "   exposure $score"
# The capability drop-in, enabled the way the README says: it must verify,
# grant CAP_DAC_READ_SEARCH and nothing more, and keep the level at 2.0 at most.
mkdir -p /etc/systemd/system/kinetail.service.d
cp /usr/share/kinetail/read-all-logs.conf /etc/systemd/system/kinetail.service.d/
out=$(systemd-analyze verify /lib/systemd/system/kinetail.service 2>&1) || fail "systemd-analyze verify with the drop-in: $out"
expect "systemd-analyze verify output with the drop-in" "" "$out"
mkdir -p "$tmp/root/usr/lib/systemd/system" "$tmp/root/etc/systemd/system/kinetail.service.d"
cp /lib/systemd/system/kinetail.service "$tmp/root/usr/lib/systemd/system/"
before=$(systemd-analyze security --offline=yes --root="$tmp/root" kinetail.service 2>&1 | grep '^✗' | sort)
cp /usr/share/kinetail/read-all-logs.conf "$tmp/root/etc/systemd/system/kinetail.service.d/"
after=$(systemd-analyze security --offline=yes --root="$tmp/root" kinetail.service 2>&1 | grep '^✗' | sort)
expect "what the drop-in grants" "✗ AmbientCapabilities=
✗ CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)" \
	"$(comm -13 <(echo "$before") <(echo "$after") | awk '{print $1, $2}')"
score_dropin=$(exposure --root="$tmp/root" kinetail.service)
systemd-analyze security --offline=yes --threshold=20 --root="$tmp/root" kinetail.service >/dev/null 2>&1 ||
	fail "exposure with the drop-in $score_dropin is above 2.0"
rm -rf /etc/systemd/system/kinetail.service.d
echo "   exposure with the capability drop-in $score_dropin"

step "deb: upgrade keeps the edited configuration and the administrator's choices"
echo "# edited by the package test" >>/etc/kinetail/kinetail.yaml
echo "AWS_REGION=eu-west-1" >>/etc/default/kinetail
cp /etc/kinetail/kinetail.yaml "$tmp/edited.yaml"
cp /etc/default/kinetail "$tmp/edited.default"
echo state >/var/lib/kinetail/marker
systemctl disable kinetail.service >/dev/null 2>&1
dpkg -i "$deb2" >"$tmp/dpkg.log" 2>&1 || {
	cat "$tmp/dpkg.log"
	fail "dpkg -i (upgrade)"
}
expect "dpkg status after upgrade" "install ok installed $v2-1" "$(dpkg-query -W -f='${Status} ${Version}' kinetail)"
expect "kinetail version after upgrade" "kinetail $v2 (commit $commit)" "$(/usr/bin/kinetail version)"
cmp "$tmp/edited.yaml" /etc/kinetail/kinetail.yaml || fail "the upgrade changed the edited /etc/kinetail/kinetail.yaml"
cmp "$tmp/edited.default" /etc/default/kinetail || fail "the upgrade changed the edited /etc/default/kinetail"
expect "state kept" "state" "$(cat /var/lib/kinetail/marker)"
expect "user kept" "$uid" "$(id -u kinetail)"
check_files "upgrade"
expect "unit disabled before the upgrade" "disabled" "$(systemctl is-enabled kinetail.service 2>&1 || true)"
running && fail "kinetail was started by the upgrade"
systemctl enable kinetail.service >/dev/null 2>&1

step "deb: remove keeps configuration, state and user; purge leaves nothing"
dpkg -r kinetail >"$tmp/dpkg.log" 2>&1 || {
	cat "$tmp/dpkg.log"
	fail "dpkg -r"
}
expect "dpkg status after remove" "deinstall ok config-files" "$(dpkg-query -W -f='${Status}' kinetail)"
for p in /usr/bin/kinetail /lib/systemd/system/kinetail.service /usr/share/doc/kinetail /usr/share/kinetail; do
	[ ! -e "$p" ] || fail "$p is still there after dpkg -r"
done
cmp "$tmp/edited.yaml" /etc/kinetail/kinetail.yaml || fail "dpkg -r changed /etc/kinetail/kinetail.yaml"
[ -f /var/lib/kinetail/marker ] || fail "dpkg -r removed the state directory"
getent passwd kinetail >/dev/null || fail "dpkg -r removed the user"
dpkg -P kinetail >"$tmp/dpkg.log" 2>&1 || {
	cat "$tmp/dpkg.log"
	fail "dpkg -P"
}
status=$(dpkg-query -W -f='${db:Status-Status}' kinetail 2>/dev/null || true)
case $status in "" | not-installed) ;; *) fail "dpkg status after purge: $status" ;; esac
left=
for p in "${paths[@]}"; do
	if [ -e "$p" ] || [ -L "$p" ]; then left="$left $p"; fi
done
[ -z "$(enable_links)" ] || left="$left $(enable_links)"
getent passwd kinetail >/dev/null && left="$left user:kinetail"
getent group kinetail >/dev/null && left="$left group:kinetail"
[ -z "$left" ] || fail "left after purge:$left"

# --- the .rpm, installed ---------------------------------------------------
# rpm on Debian, with its own database in $tmp: the scriptlets run for real
# (with /bin/sh), so their rpm side (install 1, upgrade 2, erase 0) is tried.

step "rpm: install, upgrade, erase (rpm's own database, this machine's files)"
mkdir -p "$rpmdb"
rpm --dbpath "$rpmdb" --initdb
r() { rpm --dbpath "$rpmdb" --nodeps "$@" >"$tmp/rpm.log" 2>&1 || {
	cat "$tmp/rpm.log"
	fail "rpm $*"
}; }
r -i "$rpm1"
expect "rpm -q after install" "kinetail-$v1-1.x86_64" "$(rpm --dbpath "$rpmdb" -q kinetail)"
expect "rpm install: state directory" "drwxr-x--- kinetail:kinetail" "$(stat -c '%A %U:%G' /var/lib/kinetail)"
getent passwd kinetail >/dev/null || fail "rpm install made no user kinetail"
expect "rpm install: unit" "enabled" "$(systemctl is-enabled kinetail.service 2>&1 || true)"
expect "rpm install: kinetail version" "kinetail $v1 (commit $commit)" "$(/usr/bin/kinetail version)"
echo "# edited by the package test" >>/etc/kinetail/kinetail.yaml
cp /etc/kinetail/kinetail.yaml "$tmp/edited.yaml"
systemctl disable kinetail.service >/dev/null 2>&1
r -U "$rpm2"
expect "rpm -q after upgrade" "kinetail-$v2-1.x86_64" "$(rpm --dbpath "$rpmdb" -q kinetail)"
expect "rpm upgrade: kinetail version" "kinetail $v2 (commit $commit)" "$(/usr/bin/kinetail version)"
cmp "$tmp/edited.yaml" /etc/kinetail/kinetail.yaml || fail "the rpm upgrade changed the edited configuration"
expect "rpm upgrade: unit disabled before" "disabled" "$(systemctl is-enabled kinetail.service 2>&1 || true)"
systemctl enable kinetail.service >/dev/null 2>&1
running && fail "kinetail was started by the rpm install or upgrade"
r -e kinetail
[ ! -e /usr/bin/kinetail ] || fail "rpm -e left /usr/bin/kinetail"
[ -z "$(enable_links)" ] || fail "rpm -e left the unit enabled: $(enable_links)"
cmp "$tmp/edited.yaml" /etc/kinetail/kinetail.yaml.rpmsave || fail "rpm -e did not save the edited configuration as .rpmsave"
# rpm has no purge: the state directory and the user stay (see README.md).
[ -d /var/lib/kinetail ] || fail "rpm -e removed the state directory"
getent passwd kinetail >/dev/null || fail "rpm -e removed the user"
