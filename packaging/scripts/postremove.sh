#!/bin/sh
# kinetail: after the files are removed (deb postrm, rpm %postun).
# deb purge removes what the package made outside its files: the enable
# symlinks, the state directory (checkpoints) and the kinetail user and
# group. rpm has no purge: an erase keeps the state directory and the user.
set -e

case "$1" in
remove | 0) ;;
purge)
	find /etc/systemd/system -name kinetail.service -type l -exec rm -f {} + 2>/dev/null || true
	rm -rf /var/lib/kinetail
	# A failure here must not leave the package half purged: say so instead.
	if getent passwd kinetail >/dev/null; then
		userdel kinetail || echo "kinetail: could not remove the user kinetail" >&2
	fi
	if getent group kinetail >/dev/null; then
		groupdel kinetail || echo "kinetail: could not remove the group kinetail" >&2
	fi
	rmdir /etc/kinetail 2>/dev/null || true
	;;
*) exit 0 ;; # deb upgrade, abort-install, ...; rpm 1: upgrade
esac

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
