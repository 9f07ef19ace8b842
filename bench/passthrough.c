/*
 * passthrough: the simplest FUSE passthrough (high-level API), built by
 * `make bench` as the FUSE floor blazefs is measured against.
 *   passthrough SRC MNT   (runs in the foreground; unmount with fusermount3 -u)
 */
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *src;

static void
pt_path(char *out, const char *path)
{
	snprintf(out, 4096, "%s%s", src, path);
}

static int
pt_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	char p[4096];

	(void)fi;
	pt_path(p, path);
	return lstat(p, st) ? -errno : 0;
}

static int
pt_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
           enum fuse_readdir_flags flags)
{
	char p[4096];
	struct dirent *de;
	DIR *d;

	(void)off;
	(void)fi;
	(void)flags;
	pt_path(p, path);
	if ((d = opendir(p)) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL)
		fill(buf, de->d_name, NULL, 0, 0);
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
	fi->keep_cache = 1;
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
pt_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
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

static const struct fuse_operations pt_ops = {
    .getattr = pt_getattr,
    .readdir = pt_readdir,
    .open = pt_open,
    .create = pt_create,
    .read = pt_read,
    .write = pt_write,
    .release = pt_release,
    .truncate = pt_truncate,
};

int
main(int argc, char **argv)
{
	char *args[] = {argv[0], argv[2], "-f", "-s", NULL};

	if (argc != 3) {
		fprintf(stderr, "usage: passthrough SRC MNT\n");
		return 2;
	}
	src = argv[1];
	return fuse_main(4, args, &pt_ops, NULL);
}
