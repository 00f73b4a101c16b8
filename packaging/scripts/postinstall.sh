#!/bin/sh
# kinetail: after the files are installed (deb postinst, rpm %post).
# Creates the kinetail system user and its state directory, then enables the
# service on a first install (without starting it: it ships nothing until it
# is configured) or restarts it on an upgrade if it was running. Works on
# Debian, Ubuntu, RHEL and Amazon Linux, with or without a running systemd
# (a chroot or container build has none).
set -e

# deb: "configure" with the previously configured version ("" on a first
# install); rpm: the number of kinetail packages installed after this one
# (1: install, 2 or more: upgrade).
case "$1" in
configure) if [ -z "$2" ]; then action=install; else action=upgrade; fi ;;
1) action=install ;;
[2-9]) action=upgrade ;;
*) exit 0 ;; # deb abort-upgrade, abort-remove, ...: nothing was undone
esac

if ! getent group kinetail >/dev/null; then
	groupadd --system kinetail
fi
if ! getent passwd kinetail >/dev/null; then
	nologin=/bin/false
	for shell in /usr/sbin/nologin /sbin/nologin; do
		if [ -x "$shell" ]; then nologin=$shell; break; fi
	done
	useradd --system --gid kinetail --no-create-home --home-dir /nonexistent \
		--shell "$nologin" --comment "kinetail log shipper" kinetail
	# adm reads most of /var/log on Debian and Ubuntu (only a user made here
	# is added: an administrator's later choice is kept on upgrades).
	if getent group adm >/dev/null; then
		usermod --append --groups adm kinetail
	fi
fi
# The state directory (checkpoints); systemd's StateDirectory= would make it
# at start, but `kinetail check` as the user needs it before. Its owner and
# mode are set on every install and upgrade, as systemd sets them at start.
mkdir -p /var/lib/kinetail
chown kinetail:kinetail /var/lib/kinetail
chmod 0750 /var/lib/kinetail

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
if [ "$action" = install ]; then
	# Works offline too: it only makes the symlinks.
	if command -v systemctl >/dev/null 2>&1; then
		systemctl enable kinetail.service || true
	fi
elif [ -d /run/systemd/system ]; then
	systemctl try-restart kinetail.service || true
fi
exit 0
