/*
 * scratch: scratch files, any name in a collection that is not a record's.
 * Each is a real file in DB/scratch/<collection>/, on this device only; the
 * directory of a collection is made when its first scratch file is.  Every
 * path is relative to the scratch directory (fs->scratchfd).
 *
 * A new scratch file gets the caller's mode exactly: the kernel has applied
 * the caller's umask to the mode it sends (no FUSE_CAP_DONT_MASK), so the
 * file is made and then set to that mode with fchmod, which the daemon's own
 * umask does not touch (changing the process-wide umask would race the
 * network thread's files).  SUID/SGID bits are kept; the kernel clears them
 * on a write by a caller without CAP_FSETID through setattr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/record.h"
#include "fs/fs_int.h"

int
fs_scratch_path(char *out, const char *coll, const char *name)
{
	int r = snprintf(out, FS_PATHLEN, "%s/%s", coll, name);

	return r < 0 || r >= FS_PATHLEN ? ENAMETOOLONG : 0;
}

int
fs_scratch_abspath(struct fs *fs, struct fs_node *n, char *out, size_t size)
{
	int r = snprintf(out, size, "%s/scratch/%s/%s", fs->db, fs_coll_of(fs, n), n->name);

	return r < 0 || (size_t)r >= size ? ENAMETOOLONG : 0;
}

int
fs_scratch_mkdir(struct fs *fs, const char *coll)
{
	if (mkdirat(fs->scratchfd, coll, 0700) && errno != EEXIST)
		return errno;
	return 0;
}

int
fs_scratch_empty(struct fs *fs, const char *coll)
{
	struct dirent *d;
	DIR *dir;
	int fd, empty = 1;

	if ((fd = openat(fs->scratchfd, coll, O_RDONLY | O_DIRECTORY)) < 0)
		return errno == ENOENT ? 1 : -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while (empty && (d = readdir(dir)) != NULL)
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			empty = 0;
	closedir(dir);
	return empty;
}

void
fs_scratch_rmdir(struct fs *fs, const char *coll)
{
	if (unlinkat(fs->scratchfd, coll, AT_REMOVEDIR) && errno != ENOENT)
		fs_log("%s: cannot remove the scratch directory: %s", coll, strerror(errno));
}

int
fs_scratch_list(struct fs *fs, const char *coll, char ***names, size_t *n)
{
	struct dirent *de;
	DIR *dir;
	int fd, e = 0;

	if ((fd = openat(fs->scratchfd, coll, O_RDONLY | O_DIRECTORY)) < 0)
		return errno == ENOENT ? 0 : errno;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return errno;
	}
	while ((de = readdir(dir)) != NULL) {
		char **a, *s;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((a = realloc(*names, (*n + 1) * sizeof(*a))) == NULL ||
		    asprintf(&s, "%c%s", (char)de->d_type, de->d_name) < 0) {
			if (a)
				*names = a;
			e = ENOMEM;
			break;
		}
		*names = a;
		(*names)[(*n)++] = s;
	}
	closedir(dir);
	return e;
}

int
fs_scratch_syncdir(struct fs *fs, const char *coll)
{
	int fd, r = 0;

	if ((fd = openat(fs->scratchfd, coll, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd))
			r = errno;
		close(fd);
	}
	return r;
}

int
fs_scratch_statfs(struct fs *fs, struct statvfs *sv)
{
	return fstatvfs(fs->scratchfd, sv) ? errno : 0;
}

int
fs_scratch_stat(struct fs *fs, struct fs_node *n, struct stat *st)
{
	char path[FS_PATHLEN];
	int e;

	if ((e = fs_scratch_path(path, fs_coll_of(fs, n), n->name)) != 0)
		return e;
	return fstatat(fs->scratchfd, path, st, AT_SYMLINK_NOFOLLOW) ? errno : 0;
}

int
fs_scratch_exists(struct fs *fs, const char *coll, const char *name)
{
	char path[FS_PATHLEN];
	struct stat st;

	return fs_scratch_path(path, coll, name) == 0 &&
	       fstatat(fs->scratchfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int
fs_scratch_open(struct fs *fs, struct fs_node *n, int flags, mode_t mode, int *fd)
{
	char path[FS_PATHLEN];
	const char *coll = fs_coll_of(fs, n);
	int e;

	if ((e = fs_scratch_path(path, coll, n->name)) != 0)
		return e;
	if ((flags & O_CREAT) && (e = fs_scratch_mkdir(fs, coll)) != 0)
		return e;
	flags &= ~O_NOCTTY;
	if (!(flags & O_CREAT)) {
		if ((*fd = openat(fs->scratchfd, path, flags)) < 0)
			return errno;
		return 0;
	}
	/* Made here: its mode is the caller's exactly (see the top). */
	if ((*fd = openat(fs->scratchfd, path, flags | O_EXCL, mode)) >= 0) {
		if (fchmod(*fd, mode & 07777)) {
			e = errno;
			close(*fd);
			unlinkat(fs->scratchfd, path, 0);
			return e;
		}
		return 0;
	}
	if (errno != EEXIST || (flags & O_EXCL))
		return errno;
	if ((*fd = openat(fs->scratchfd, path, flags & ~O_CREAT)) < 0)
		return errno;
	return 0;
}

int
fs_scratch_read(int fd, size_t size, off_t off, char **buf, size_t *len)
{
	ssize_t got;

	if ((*buf = malloc(size)) == NULL)
		return ENOMEM;
	if ((got = pread(fd, *buf, size, off)) < 0)
		return errno;
	*len = got;
	return 0;
}

int
fs_scratch_setattr(struct fs *fs, struct fs_node *n, struct stat *a, int set, int fd)
{
	char path[FS_PATHLEN];
	int e;

	if ((e = fs_scratch_path(path, fs_coll_of(fs, n), n->name)) != 0)
		return e;
	if (set & FUSE_SET_ATTR_MODE &&
	    (fd >= 0 ? fchmod(fd, a->st_mode) : fchmodat(fs->scratchfd, path, a->st_mode, 0)))
		return errno;
	if (set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t u = set & FUSE_SET_ATTR_UID ? a->st_uid : (uid_t)-1;
		gid_t g = set & FUSE_SET_ATTR_GID ? a->st_gid : (gid_t)-1;

		if (fchownat(fs->scratchfd, path, u, g, AT_SYMLINK_NOFOLLOW))
			return errno;
	}
	if (set & FUSE_SET_ATTR_SIZE) {
		int tfd = fd >= 0 ? fd : openat(fs->scratchfd, path, O_WRONLY);

		if (tfd < 0)
			return errno;
		e = ftruncate(tfd, a->st_size) ? errno : 0;
		if (tfd != fd)
			close(tfd);
		if (e)
			return e;
	}
	if (set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};

		if (set & FUSE_SET_ATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (set & FUSE_SET_ATTR_ATIME)
			ts[0] = a->st_atim;
		if (set & FUSE_SET_ATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (set & FUSE_SET_ATTR_MTIME)
			ts[1] = a->st_mtim;
		if (utimensat(fs->scratchfd, path, ts, AT_SYMLINK_NOFOLLOW))
			return errno;
	}
	return 0;
}

int
fs_scratch_load(struct fs *fs, const char *coll, const char *name, char **buf, size_t *len)
{
	char path[FS_PATHLEN];
	struct stat st;
	size_t cap = RECORD_MAX_BYTES + 1;
	ssize_t got;
	int fd, e;

	if ((e = fs_scratch_path(path, coll, name)) != 0)
		return e;
	if ((fd = openat(fs->scratchfd, path, O_RDONLY | O_NOFOLLOW)) < 0)
		return errno == ELOOP ? EPERM : errno;
	if (fstat(fd, &st) || (*buf = malloc(cap)) == NULL) {
		e = errno;
		close(fd);
		return e;
	}
	*len = 0;
	while (*len < cap && (got = read(fd, *buf + *len, cap - *len)) != 0) {
		if (got < 0) {
			e = errno;
			free(*buf);
			break;
		}
		*len += got;
	}
	close(fd);
	return e;
}

static int
scratch_write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	for (; len > 0; buf += w, len -= w)
		if ((w = write(fd, buf, len)) < 0)
			return errno;
	return 0;
}

int
fs_scratch_store(struct fs *fs, const char *coll, const char *name, const char *buf, size_t len)
{
	char path[FS_PATHLEN];
	int fd, e;

	if ((e = fs_scratch_path(path, coll, name)) != 0 || (e = fs_scratch_mkdir(fs, coll)) != 0)
		return e;
	if ((fd = openat(fs->scratchfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644)) < 0)
		return errno;
	e = scratch_write_all(fd, buf, len);
	if (close(fd) && !e)
		e = errno;
	if (e)
		unlinkat(fs->scratchfd, path, 0);
	return e;
}

int
fs_scratch_unlink(struct fs *fs, const char *coll, const char *name)
{
	char path[FS_PATHLEN];
	int e;

	if ((e = fs_scratch_path(path, coll, name)) != 0)
		return e;
	return unlinkat(fs->scratchfd, path, 0) ? errno : 0;
}

int
fs_scratch_rename(struct fs *fs, const char *c1, const char *n1, const char *c2, const char *n2)
{
	char path1[FS_PATHLEN], path2[FS_PATHLEN];
	int e;

	if ((e = fs_scratch_path(path1, c1, n1)) || (e = fs_scratch_path(path2, c2, n2)) ||
	    (e = fs_scratch_mkdir(fs, c2)))
		return e;
	return renameat(fs->scratchfd, path1, fs->scratchfd, path2) ? errno : 0;
}

int
fs_scratch_symlink(struct fs *fs, const char *link, const char *coll, const char *name)
{
	char path[FS_PATHLEN];
	int e;

	if ((e = fs_scratch_path(path, coll, name)) || (e = fs_scratch_mkdir(fs, coll)))
		return e;
	return symlinkat(link, fs->scratchfd, path) ? errno : 0;
}

int
fs_scratch_mknod(struct fs *fs, const char *coll, const char *name, mode_t mode)
{
	char path[FS_PATHLEN];
	int e;

	if ((e = fs_scratch_path(path, coll, name)) || (e = fs_scratch_mkdir(fs, coll)))
		return e;
	if (mknodat(fs->scratchfd, path, mode, 0))
		return errno;
	/* The kernel applied the caller's umask to mode; the daemon's must not
	 * apply a second time (see fs_scratch_open). */
	if (fchmodat(fs->scratchfd, path, mode & 07777, 0)) {
		e = errno;
		unlinkat(fs->scratchfd, path, 0);
		return e;
	}
	return 0;
}

int
fs_scratch_readlink(struct fs *fs, struct fs_node *n, char *buf, size_t size)
{
	char path[FS_PATHLEN];
	ssize_t len;
	int e;

	if (n->kind != FS_SCRATCH)
		return EINVAL;
	if ((e = fs_scratch_path(path, fs_coll_of(fs, n), n->name)) != 0)
		return e;
	if ((len = readlinkat(fs->scratchfd, path, buf, size - 1)) < 0)
		return errno;
	buf[len] = '\0';
	return 0;
}
