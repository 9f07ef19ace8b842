/*
 * passthrough: the FUSE floor `make bench` measures blazefs against, built as
 * libfuse's own example/passthrough.c is: the high-level API, fuse_main's
 * default multi-threaded loop (no -s), use_ino, the kernel's page cache kept
 * across opens (kernel_cache), libfuse's default 1 s entry and attribute
 * timeouts, and readdir filling each entry's attributes (FUSE_FILL_DIR_PLUS)
 * so that the kernel lists with READDIRPLUS instead of a LOOKUP per entry.
 * A single-threaded passthrough without readdirplus flatters blazefs by 3-8x.
 *   passthrough SRC MNT   (runs in the foreground; unmount with fusermount3 -u)
 */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *src;

static void
pt_path(char *out, const char *path)
{
	snprintf(out, 4096, "%s%s", src, path);
}

static void *
pt_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->kernel_cache = 1;
	return NULL;
}

static int
pt_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	char p[4096];

	if (fi != NULL)
		return fstat((int)fi->fh, st) ? -errno : 0;
	pt_path(p, path);
	return lstat(p, st) ? -errno : 0;
}

static int
pt_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
           enum fuse_readdir_flags flags)
{
	char p[4096];
	struct dirent *de;
	struct stat st;
	DIR *d;

	(void)off;
	(void)fi;
	pt_path(p, path);
	if ((d = opendir(p)) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		enum fuse_fill_dir_flags ff = 0;

		memset(&st, 0, sizeof(st));
		st.st_ino = de->d_ino;
		st.st_mode = (mode_t)de->d_type << 12;
		if ((flags & FUSE_READDIR_PLUS) &&
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			ff = FUSE_FILL_DIR_PLUS;
		if (fill(buf, de->d_name, &st, 0, ff))
			break;
	}
	closedir(d);
	return 0;
}

static int
pt_open(const char *path, struct fuse_file_info *fi)
{
	char p[4096];
	int fd;

	pt_path(p, path);
	if ((fd = open(p, fi->flags)) < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int
pt_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char p[4096];
	int fd;

	pt_path(p, path);
	if ((fd = open(p, fi->flags, mode)) < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int
pt_read(const char *path, char *buf, size_t n, off_t off, struct fuse_file_info *fi)
{
	ssize_t r = pread((int)fi->fh, buf, n, off);

	(void)path;
	return r < 0 ? -errno : (int)r;
}

static int
pt_write(const char *path, const char *buf, size_t n, off_t off, struct fuse_file_info *fi)
{
	ssize_t r = pwrite((int)fi->fh, buf, n, off);

	(void)path;
	return r < 0 ? -errno : (int)r;
}

static int
pt_flush(const char *path, struct fuse_file_info *fi)
{
	/* what example/passthrough.c does: close a dup, so that a close()
	 * reports the errors the backing file system defers to it */
	int fd = dup((int)fi->fh);

	(void)path;
	if (fd < 0)
		return -errno;
	return close(fd) ? -errno : 0;
}

static int
pt_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int
pt_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	return (datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh)) ? -errno : 0;
}

static int
pt_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	char p[4096];

	if (fi != NULL)
		return ftruncate((int)fi->fh, size) ? -errno : 0;
	pt_path(p, path);
	return truncate(p, size) ? -errno : 0;
}

static int
pt_unlink(const char *path)
{
	char p[4096];

	pt_path(p, path);
	return unlink(p) ? -errno : 0;
}

static int
pt_mkdir(const char *path, mode_t mode)
{
	char p[4096];

	pt_path(p, path);
	return mkdir(p, mode) ? -errno : 0;
}

static int
pt_rmdir(const char *path)
{
	char p[4096];

	pt_path(p, path);
	return rmdir(p) ? -errno : 0;
}

static int
pt_rename(const char *from, const char *to, unsigned int flags)
{
	char p[4096], q[4096];

	if (flags)
		return -EINVAL;
	pt_path(p, from);
	pt_path(q, to);
	return rename(p, q) ? -errno : 0;
}

static int
pt_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char p[4096];

	if (fi != NULL)
		return fchmod((int)fi->fh, mode) ? -errno : 0;
	pt_path(p, path);
	return chmod(p, mode) ? -errno : 0;
}

static int
pt_utimens(const char *path, const struct timespec ts[2], struct fuse_file_info *fi)
{
	char p[4096];

	if (fi != NULL)
		return futimens((int)fi->fh, ts) ? -errno : 0;
	pt_path(p, path);
	return utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static const struct fuse_operations pt_ops = {
    .init = pt_init,
    .getattr = pt_getattr,
    .readdir = pt_readdir,
    .open = pt_open,
    .create = pt_create,
    .read = pt_read,
    .write = pt_write,
    .flush = pt_flush,
    .release = pt_release,
    .fsync = pt_fsync,
    .truncate = pt_truncate,
    .unlink = pt_unlink,
    .mkdir = pt_mkdir,
    .rmdir = pt_rmdir,
    .rename = pt_rename,
    .chmod = pt_chmod,
    .utimens = pt_utimens,
};

int
main(int argc, char **argv)
{
	/* no -s: fuse_main's multi-threaded loop, as the example runs */
	char *args[] = {argv[0], argv[2], "-f", NULL};

	if (argc != 3) {
		fprintf(stderr, "usage: passthrough SRC MNT\n");
		return 2;
	}
	src = argv[1];
	return fuse_main(3, args, &pt_ops, NULL);
}
