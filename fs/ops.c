/*
 * ops: the FUSE low-level operations table.  Each op is thin: it calls the
 * function that does the work (fs/fs_int.h), which returns an errno and fills
 * a result, and replies exactly once, here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "core/mode.h"
#include "fs/fs_int.h"

/*
 * Receive-only (core/mode.h): every change through the mount is refused with
 * EROFS, and the first refusal logs why.  The mode is read from the journal
 * at most every 500 ms (blazefs mode changes it while mounted).
 */
static int
refused(fuse_req_t req)
{
	static uint64_t checked;
	static int mode, logged;
	struct fs *fs = fuse_req_userdata(req);
	uint64_t t = hlc_mono_ms(), last = __atomic_load_n(&checked, __ATOMIC_ACQUIRE);

	if (last == 0 || t - last >= 500) {
		__atomic_store_n(&mode, (int)mode_get(fs->j), __ATOMIC_RELAXED);
		__atomic_store_n(&checked, t, __ATOMIC_RELEASE);
	}
	if (__atomic_load_n(&mode, __ATOMIC_RELAXED) != MODE_RECEIVE_ONLY) {
		__atomic_store_n(&logged, 0, __ATOMIC_RELAXED);
		return 0;
	}
	if (__atomic_exchange_n(&logged, 1, __ATOMIC_RELAXED) == 0)
		fs_log("this device is receive-only (blazefs mode): records are read-only "
		       "here, writes fail with EROFS ('blazefs mode DB both' allows them)");
	return 1;
}

static struct fs *
fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fs_node *
node_of(fuse_req_t req, fuse_ino_t ino)
{
	return fs_node_get(&fs_of(req)->t, ino);
}

static void
reply_entry(fuse_req_t req, int r, const struct fuse_entry_param *e)
{
	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_entry(req, e);
}

static void
reply_attr(fuse_req_t req, int r, const struct stat *st)
{
	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_attr(req, st, FS_TIMEOUT);
}

/* The reply to getxattr and listxattr: the size alone when size is 0. */
static void
reply_xattr(fuse_req_t req, int r, const char *val, size_t len, size_t size)
{
	if (r)
		fuse_reply_err(req, r);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, val, len);
}

static void
fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC arrives with open, not as a separate truncate to empty. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* Listings carry attributes (readdirplus): the kernel asks for them at
	 * the start of a listing and when lookups in the directory follow it. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO;
}

static void
fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	reply_entry(req, fs_dir_lookup(fs_of(req), parent, name, &e), &e);
}

static void
fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_node_forget(&fs_of(req)->t, ino, nlookup);
	fuse_reply_none(req);
}

static void
fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_node_forget(&fs_of(req)->t, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void
fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_node *n = node_of(req, ino);
	struct stat st;

	(void)fi;
	reply_attr(req, n ? fs_getattr(fs_of(req), n, &st) : ENOENT, &st);
}

static void
fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
              struct fuse_file_info *fi)
{
	struct stat st;

	if (refused(req) && (to_set & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MODE))) {
		fuse_reply_err(req, EROFS);
		return;
	}
	reply_attr(req, fs_file_setattr(fs_of(req), ino, attr, to_set, fi, &st), &st);
}

static void
fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_node *n = node_of(req, ino);
	char buf[PATH_MAX + 1];
	int r = n ? fs_scratch_readlink(fs_of(req), n, buf, sizeof(buf)) : ENOENT;

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_readlink(req, buf);
}

static void
fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct fuse_entry_param e;

	if (refused(req)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	(void)rdev;
	reply_entry(req, fs_dir_mknod(fs_of(req), parent, name, mode, &e), &e);
}

static void
fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;

	if (refused(req)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	(void)mode;
	reply_entry(req, fs_dir_mkdir(fs_of(req), parent, name, &e), &e);
}

static void
fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (refused(req)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fuse_reply_err(req, fs_dir_unlink(fs_of(req), parent, name));
}

static void
fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (refused(req)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fuse_reply_err(req, fs_dir_rmdir(fs_of(req), parent, name));
}

static void
fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	if (refused(req)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	reply_entry(req, fs_dir_symlink(fs_of(req), link, parent, name, &e), &e);
}

static void
fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
             const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	fuse_ino_t stale = 0;

	if (refused(req)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fuse_reply_err(req, fs_rename(fs, parent, name, newparent, newname, flags, &stale));
	/* After the reply: the kernel holds locks on the inode until then. */
	/* Attributes only (off -1): dropping pages could wait on a reader
	 * whose READ this very thread has yet to answer. */
	if (stale)
		fuse_lowlevel_notify_inval_inode(fs->se, stale, -1, 0);
}

static void
fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	(void)newparent;
	fs_log("%s: hard links are not supported", newname);
	fuse_reply_err(req, EPERM);
}

static void
fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int r = (fi->flags & O_ACCMODE) != O_RDONLY && refused(req)
	            ? EROFS
	            : fs_file_open(fs_of(req), ino, fi);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_open(req, fi);
}

static void
fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	const char *out;
	size_t len;
	char *tofree;
	int r = fs_file_read(fs_of(req), ino, fi, size, off, &out, &len, &tofree);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_buf(req, out, len);
	free(tofree);
}

static void
fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
            struct fuse_file_info *fi)
{
	size_t done = 0;
	int r = refused(req) ? EROFS : fs_file_write(fs_of(req), ino, fi, buf, size, off, &done);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_write(req, done);
}

static void
fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, fs_file_flush(fs_of(req), ino, fi));
}

static void
fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_file_release(fs_of(req), ino, fi);
	fuse_reply_err(req, 0);
}

static void
fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, fs_file_fsync(fs_of(req), ino, datasync, fi));
}

static void
fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int r = fs_dir_open(fs_of(req), ino, fi);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_open(req, fi);
}

static void
dir_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi,
         int plus)
{
	char *buf = NULL;
	size_t used = 0;
	int r = fs_dir_read(fs_of(req), req, ino, fi, size, off, plus, &buf, &used);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void
fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	dir_read(req, ino, size, off, fi, 0);
}

static void
fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	dir_read(req, ino, size, off, fi, 1);
}

static void
fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fs_dir_release(fi);
	fuse_reply_err(req, 0);
}

static void
fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, fs_dir_fsync(fs_of(req), ino));
}

static void
fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int r = fs_scratch_statfs(fs_of(req), &sv);

	(void)ino;
	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_statfs(req, &sv);
}

static void
fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
               int flags)
{
	if (refused(req)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fuse_reply_err(req, fs_xattr_set(fs_of(req), node_of(req, ino), name, value, size, flags));
}

static void
fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *val;
	size_t len;
	int r = fs_xattr_get(fs_of(req), node_of(req, ino), name, size, &val, &len);

	reply_xattr(req, r, val, len, size);
	free(val);
}

static void
fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *val;
	size_t len;
	int r = fs_xattr_list(fs_of(req), node_of(req, ino), size, &val, &len);

	reply_xattr(req, r, val, len, size);
	free(val);
}

static void
fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	if (refused(req)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fuse_reply_err(req, fs_xattr_remove(fs_of(req), node_of(req, ino), name));
}

static void
fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
             struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int r = refused(req) ? EROFS : fs_file_create(fs_of(req), parent, name, mode, fi, &e);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_create(req, &e, fi);
}

const struct fuse_lowlevel_ops fs_ops = {
    .init = fs_op_init,
    .lookup = fs_op_lookup,
    .forget = fs_op_forget,
    .forget_multi = fs_op_forget_multi,
    .getattr = fs_op_getattr,
    .setattr = fs_op_setattr,
    .readlink = fs_op_readlink,
    .mknod = fs_op_mknod,
    .mkdir = fs_op_mkdir,
    .unlink = fs_op_unlink,
    .rmdir = fs_op_rmdir,
    .symlink = fs_op_symlink,
    .rename = fs_op_rename,
    .link = fs_op_link,
    .open = fs_op_open,
    .read = fs_op_read,
    .write = fs_op_write,
    .flush = fs_op_flush,
    .release = fs_op_release,
    .fsync = fs_op_fsync,
    .fsyncdir = fs_op_fsyncdir,
    .opendir = fs_op_opendir,
    .readdir = fs_op_readdir,
    .readdirplus = fs_op_readdirplus,
    .releasedir = fs_op_releasedir,
    .statfs = fs_op_statfs,
    .setxattr = fs_op_setxattr,
    .getxattr = fs_op_getxattr,
    .listxattr = fs_op_listxattr,
    .removexattr = fs_op_removexattr,
    .create = fs_op_create,
};
