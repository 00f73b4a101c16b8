package tailer

import "syscall"

// Magic numbers of statfs(2)'s f_type for the local file systems whose
// inotify events report every change to their files. Network and FUSE file
// systems (NFS, SMB, 9p, sshfs...) are left out: changes made on another
// machine, or by the FUSE daemon, make no event here.
var localFS = map[int64]bool{
	0xEF53:     true, // ext2, ext3, ext4
	0x58465342: true, // xfs
	0x9123683E: true, // btrfs
	0x01021994: true, // tmpfs
	0x794C7630: true, // overlayfs
	0x2FC12FC1: true, // zfs
	0xF2F52010: true, // f2fs
	0x52654973: true, // reiserfs
	0x3153464A: true, // jfs
	0xCA451A4E: true, // bcachefs
}

// eventsComplete reports whether dir is on a local file system, where a
// watch on it sees every write to its files.
func eventsComplete(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	return localFS[int64(st.Type)]
}
