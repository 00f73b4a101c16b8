#!/bin/sh
# kinetail: before the files are removed (deb prerm, rpm %preun). Stops the
# service when the package is removed, not when it is upgraded (the new
# package restarts it then, if it was running).
set -e

case "$1" in
remove) ;;  # deb: the enable symlink stays until purge, as dpkg keeps /etc
0)          # rpm: erase (there is no purge), so disable it too
	if command -v systemctl >/dev/null 2>&1; then
		systemctl --no-reload disable kinetail.service || true
	fi
	;;
*) exit 0 ;; # deb upgrade, deconfigure, failed-upgrade; rpm 1: upgrade
esac

if [ -d /run/systemd/system ]; then
	systemctl stop kinetail.service || true
fi
exit 0
