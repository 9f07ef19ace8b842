/*
 * file: open files.  Each open is a struct fs_handle in fi->fh, whatever the
 * kind of file: a record (its bytes are the node's edit buffer, fs/edit.c), a
 * scratch file (a descriptor of the real file) or a .blazefs file (a snapshot
 * of its text, taken at open).
 *
 * Documented choices:
 * - Records are 0644 regular files owned by the mounting user; chmod, chown
 *   and utimens on them are accepted and ignored (the mtime is that of the
 *   record's last change).
 * - A dirty record buffer is committed at flush (close) and fsync.  An empty
 *   buffer is only committed at the last release (shells close a redirected
 *   descriptor once before writing through its copy); it is invalid JSON, so
 *   it becomes a rejected write.  Emptying a record that exists gets EINVAL
 *   from every close while it is empty, as any invalid content does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/journal.h"
#include "fs/fs_int.h"

struct fs_handle {
	struct fs_open link;
	enum fs_kind kind; /* what the node was at open: it may be renamed since */
	int fd;            /* scratch */
	int append;        /* record opened with O_APPEND */
	char *text;        /* .blazefs file snapshot */
	size_t len;
};

static struct fs_handle *
handle_of(struct fuse_file_info *fi)
{
	return (struct fs_handle *)(uintptr_t)fi->fh;
}

static int
handle_new(struct fs *fs, struct fuse_file_info *fi, enum fs_kind kind, int fd)
{
	struct fs_handle *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return ENOMEM;
	fs_open_link(fs, &h->link, 0);
	h->kind = kind;
	h->fd = fd;
	h->append = (fi->flags & O_APPEND) != 0;
	fi->fh = (uintptr_t)h;
	return 0;
}

void
fs_file_free(struct fs_handle *h)
{
	fs_open_unlink(&h->link);
	if (h->fd >= 0)
		close(h->fd);
	free(h->text);
	free(h);
}

/* Closes the handle in fi of node n (NULL if forgotten). */
static void
file_close(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi)
{
	struct fs_handle *h = handle_of(fi);

	if (h->kind == FS_RECORD && n) {
		fs_edit_close(fs, n);
		fs_node_release(&fs->t, n);
	}
	fs_file_free(h);
}

static int
file_open_scratch(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi, mode_t mode)
{
	int fd, e;

	if ((e = fs_scratch_open(fs, n, fi->flags, mode, &fd)) != 0)
		return e;
	if ((e = handle_new(fs, fi, FS_SCRATCH, fd)) != 0)
		close(fd);
	fi->noflush = 1; /* nothing to do at close: saves a round trip */
	return e;
}

static int
file_open_record(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi, int create)
{
	int keep, e;

	if ((e = fs_edit_open(fs, n, fi->flags, create, &keep)) != 0)
		return e;
	if ((e = handle_new(fs, fi, FS_RECORD, -1)) != 0) {
		fs_edit_close(fs, n);
		return e;
	}
	fi->keep_cache = keep;
	/* A reader's close commits nothing: the kernel need not tell us. */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
	return 0;
}

static int
file_open_meta(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi)
{
	struct fs_handle *h;
	int e;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return EROFS;
	if ((e = handle_new(fs, fi, FS_METAFILE, -1)) != 0)
		return e;
	h = handle_of(fi);
	if ((e = fs_meta_text(fs, n->name, &h->text, &h->len)) != 0) {
		fs_file_free(h);
		return e;
	}
	fi->direct_io = 1;
	fi->noflush = 1;
	return 0;
}

int
fs_file_open(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_node *n = fs_node_get(&fs->t, ino);

	if (n == NULL)
		return ENOENT;
	switch (n->kind) {
	case FS_RECORD:
		return file_open_record(fs, n, fi, 0);
	case FS_SCRATCH:
		return file_open_scratch(fs, n, fi, 0);
	case FS_METAFILE:
		return file_open_meta(fs, n, fi);
	default:
		return EISDIR;
	}
}

int
fs_file_create(struct fs *fs, fuse_ino_t parent, const char *name, mode_t mode,
               struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	struct fs_node *p = fs_node_get(&fs->t, parent), *n;
	enum fs_kind kind;
	int r, existed;

	if (p == NULL)
		return ENOENT;
	if ((r = fs_dir_may_create(p, name, &kind)) != 0)
		return r;
	if ((n = fs_node_lookup(&fs->t, parent, name, kind)) == NULL)
		return ENOMEM;
	existed =
	    kind == FS_SCRATCH ? fs_scratch_exists(fs, p->name, name) : fs_edit_exists(fs, p, name);
	if (kind == FS_SCRATCH)
		r = file_open_scratch(fs, n, fi, mode);
	else if (!existed)
		r = file_open_record(fs, n, fi, 1);
	else
		r = fi->flags & O_EXCL ? EEXIST : file_open_record(fs, n, fi, 0);
	if (r == 0 && !existed)
		fs_node_touch(&fs->t, parent);
	memset(e, 0, sizeof(*e));
	if (r == 0 && (r = fs_getattr(fs, n, &e->attr)) != 0)
		file_close(fs, n, fi);
	if (r) {
		fs_node_forget(&fs->t, n->ino, 1);
		return r;
	}
	e->ino = n->ino;
	e->attr_timeout = FS_TIMEOUT;
	e->entry_timeout = FS_TIMEOUT;
	return 0;
}

int
fs_file_read(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi, size_t size, off_t off,
             const char **out, size_t *len, char **tofree)
{
	struct fs_handle *h = handle_of(fi);
	struct fs_node *n;
	const char *src;
	size_t srclen;
	int e;

	*out = NULL;
	*len = 0;
	*tofree = NULL;
	switch (h->kind) {
	case FS_SCRATCH:
		if ((e = fs_scratch_read(h->fd, size, off, tofree, len)) == 0)
			*out = *tofree;
		return e;
	case FS_METAFILE:
		src = h->text;
		srclen = h->len;
		break;
	default:
		if ((n = fs_node_get(&fs->t, ino)) == NULL)
			return EBADF;
		fs_edit_refresh(fs, n);
		src = n->buf;
		srclen = n->len;
		break;
	}
	if (off >= 0 && (size_t)off < srclen) {
		*out = src + off;
		*len = srclen - off < size ? srclen - off : size;
	}
	return 0;
}

int
fs_file_write(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi, const char *buf,
              size_t size, off_t off, size_t *done)
{
	struct fs_handle *h = handle_of(fi);
	struct fs_node *n;
	ssize_t w;

	if (h->kind == FS_SCRATCH) {
		if ((w = pwrite(h->fd, buf, size, off)) < 0)
			return errno;
		*done = w;
		return 0;
	}
	if (h->kind != FS_RECORD || (n = fs_node_get(&fs->t, ino)) == NULL)
		return EBADF;
	return fs_edit_write(n, buf, size, off, h->append, done);
}

int
fs_file_flush(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_node *n = fs_node_get(&fs->t, ino);

	if (handle_of(fi)->kind != FS_RECORD || n == NULL)
		return 0;
	if (n->len > 0 || n->toobig)
		return fs_edit_commit(fs, n);
	/* An empty record waits for the last release (see the top comment),
	 * but emptying one that exists is invalid content: EINVAL now, like
	 * any other (a shell's early close of its redirected descriptor
	 * ignores it), logged and listed only if still empty at release. */
	if (n->dirty && n->base != NULL && !n->unlinked && !n->created)
		return EINVAL;
	return 0;
}

void
fs_file_release(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	file_close(fs, fs_node_get(&fs->t, ino), fi);
}

int
fs_file_fsync(struct fs *fs, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_handle *h = handle_of(fi);
	struct fs_node *n = fs_node_get(&fs->t, ino);
	int r = 0;

	if (h->kind == FS_SCRATCH)
		r = (datasync ? fdatasync(h->fd) : fsync(h->fd)) ? errno : 0;
	else if (h->kind == FS_RECORD && n && (r = fs_edit_commit(fs, n)) == 0 &&
	         (fs_pending_run(fs, 1, NULL), journal_sync(fs->j)))
		r = errno;
	return r;
}

/* Only a record's size can change; a .blazefs file's cannot. */
int
fs_file_setattr(struct fs *fs, fuse_ino_t ino, struct stat *attr, int to_set,
                struct fuse_file_info *fi, struct stat *st)
{
	struct fs_node *n = fs_node_get(&fs->t, ino);
	int r = 0;

	if (n == NULL)
		return ENOENT;
	if (n->kind == FS_SCRATCH && (!fi || handle_of(fi)->kind == FS_SCRATCH))
		r = fs_scratch_setattr(fs, n, attr, to_set, fi ? handle_of(fi)->fd : -1);
	else if (n->kind == FS_METAFILE && (to_set & FUSE_SET_ATTR_SIZE))
		r = EROFS;
	else if (n->kind == FS_RECORD && (to_set & FUSE_SET_ATTR_SIZE))
		r = fs_edit_truncate(fs, n, attr->st_size);
	return r ? r : fs_getattr(fs, n, st);
}
