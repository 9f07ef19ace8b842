/*
 * edit: records as files.  A record's attributes come from its open buffer,
 * a rejected write or the journal.  An open record is read into one buffer
 * per inode (struct fs_node: buf, base, dirty) at its first open; a dirty
 * buffer becomes one change, an edit of what this device read (DESIGN §2:
 * nothing is silently lost), when a handle is flushed (close) or fsync'ed,
 * and at the last close.  Invalid content is kept as a rejected write and
 * gives EINVAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/journal.h"
#include "core/record.h"
#include "fs/fs_int.h"

int
fs_edit_load(struct fs *fs, const char *coll, const char *id, char **buf, size_t *len)
{
	char *why;

	if (journal_reject_get(fs->j, coll, id, buf, len, &why) == 0) {
		free(why);
		return 0;
	}
	if (errno != ENOENT)
		return errno;
	return journal_read_record(fs->j, coll, id, buf, len) ? errno : 0;
}

int
fs_edit_rejected(struct fs *fs, const char *coll, const char *id)
{
	char *buf, *why;
	size_t len;

	if (journal_reject_get(fs->j, coll, id, &buf, &len, &why))
		return 0;
	free(buf);
	free(why);
	return 1;
}

int
fs_edit_attr(struct fs *fs, struct fs_node *n, struct stat *st)
{
	struct journal_stat js = {0};
	char id[NAME_MAX_BYTES + 1], *buf, *why;
	size_t len;
	int have;

	if (record_file_id(n->name, id))
		return ENOENT;
	if (fs_pending_is(fs, fs_coll_of(fs, n), id) && !(n->nopen > 0 && !n->unlinked))
		return ENOENT; /* deleted, its delete held back */
	have = journal_stat_record(fs->j, fs_coll_of(fs, n), id, &js) == 0;
	if (!have && errno != ENOENT)
		return errno;
	if (n->nopen > 0 && !n->unlinked) {
		st->st_size = n->len;
	} else if (journal_reject_get(fs->j, fs_coll_of(fs, n), id, &buf, &len, &why) == 0) {
		free(buf);
		free(why);
		st->st_size = len;
	} else if (have) {
		st->st_size = js.size;
	} else {
		return ENOENT;
	}
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	if (have)
		fs_set_times(st, js.mtime_ms / 1000, (js.mtime_ms % 1000) * 1000000);
	else
		fs_set_times(st, time(NULL), 0);
	return 0;
}

int
fs_edit_exists(struct fs *fs, struct fs_node *p, const char *fname)
{
	struct fs_node *n = fs_node_find(&fs->t, p->ino, fname);
	struct stat st;

	if (n && n->kind == FS_RECORD)
		return fs_edit_attr(fs, n, &st) == 0;
	else {
		struct fs_node tmp = {.parent = p->ino, .name = (char *)fname};

		return fs_edit_attr(fs, &tmp, &st) == 0;
	}
}

static uint64_t
edit_version(struct fs *fs, struct fs_node *n)
{
	struct journal_stat js;
	char id[NAME_MAX_BYTES + 1];

	if (record_file_id(n->name, id) || journal_stat_record(fs->j, fs_coll_of(fs, n), id, &js))
		return 0;
	return js.version;
}

/* Makes the edit base of n a copy of buf (NULL: none).  0 or ENOMEM. */
static int
edit_set_base(struct fs_node *n, const char *buf, size_t len)
{
	char *b = NULL;

	if (buf != NULL && (b = malloc(len ? len : 1)) == NULL)
		return ENOMEM;
	if (b != NULL)
		memcpy(b, buf, len);
	free(n->base);
	n->base = b;
	n->baselen = len;
	return 0;
}

/* Empties the buffer of n. */
static void
edit_drop(struct fs_node *n)
{
	free(n->buf);
	n->buf = NULL;
	n->len = n->cap = 0;
}

int
fs_edit_put(struct fs *fs, const char *coll, const char *fname, const char *id, const char *base,
            size_t baselen, const char *buf, size_t len, uint64_t *version)
{
	struct journal_stat st;
	const char *why;
	int e;

	if (journal_save_record(fs->j, coll, id, base, baselen, buf, len, &why, &st) == 0) {
		if (version != NULL)
			*version = st.version;
		return 0;
	}
	e = errno;
	if (why == NULL) /* not rejected: the write itself failed */
		return e;
	fs_log("%s/%s: write rejected: %s", coll, fname, why);
	if (e != EINVAL && e != EFBIG)
		fs_log("%s/%s: cannot keep the rejected bytes: %s", coll, fname, strerror(e));
	return e == EFBIG ? EFBIG : EINVAL;
}

/* An edit of what this device read, so changes that arrived while the file
 * was open are kept. */
int
fs_edit_commit(struct fs *fs, struct fs_node *n)
{
	char id[NAME_MAX_BYTES + 1];
	const char *buf = n->buf ? n->buf : "";
	uint64_t v;
	int e;

	if (!n->dirty || n->unlinked)
		return 0;
	if (record_file_id(n->name, id))
		return EIO;
	if (n->toobig) {
		/* A write past the limit got EFBIG: what is left is a truncated
		 * prefix, not the user's record.  Say so, change nothing. */
		fs_log("%s/%s: write rejected: record larger than 1 MiB (the limit)",
		       fs_coll_of(fs, n), n->name);
		n->toobig = 0;
		n->dirty = 0;
		return EFBIG;
	}
	if ((e = fs_edit_put(fs, fs_coll_of(fs, n), n->name, id, n->base, n->baselen, buf, n->len,
	                     &v)) != 0) {
		if (e == EINVAL || e == EFBIG)
			n->dirty = 0; /* kept as the rejected write */
		return e;
	}
	n->dirty = 0;
	if (edit_set_base(n, buf, n->len))
		edit_set_base(n, NULL, 0); /* no memory: a plain write next time */
	pthread_mutex_lock(&fs->t.lock);
	n->cached_version = v;
	pthread_mutex_unlock(&fs->t.lock);
	return 0;
}

/* Loads the buffer of an open record from the journal, and the edit base
 * with it if with_base.  Sets *keep if the kernel's cache of the content is
 * still valid. */
static int
edit_load_buf(struct fs *fs, struct fs_node *n, int with_base, int *keep)
{
	char id[NAME_MAX_BYTES + 1];
	uint64_t v;
	int e;

	edit_drop(n);
	if (record_file_id(n->name, id))
		return ENOENT;
	if ((e = fs_edit_load(fs, fs_coll_of(fs, n), id, &n->buf, &n->len)) != 0 ||
	    (with_base && (e = edit_set_base(n, n->buf, n->len)) != 0))
		return e;
	n->cap = n->len;
	v = edit_version(fs, n);
	pthread_mutex_lock(&fs->t.lock);
	*keep = v != 0 && v == n->cached_version;
	n->cached_version = v;
	pthread_mutex_unlock(&fs->t.lock);
	return 0;
}

/*
 * Unsaved writes in the buffer win at close, as an edit.  The edit base
 * stays what the handles first read: a writer that never read again must not
 * undo the change (and one that did writes it back, a no-op).
 */
void
fs_edit_refresh(struct fs *fs, struct fs_node *n)
{
	int stale, keep;

	pthread_mutex_lock(&fs->t.lock);
	stale = n->cached_version == 0;
	pthread_mutex_unlock(&fs->t.lock);
	if (stale && !n->dirty && !n->unlinked && edit_load_buf(fs, n, 0, &keep))
		fs_log("%s/%s: cannot reload after a remote change", fs_coll_of(fs, n), n->name);
}

/* Loads the buffer of n on its first open. */
static int
edit_hold(struct fs *fs, struct fs_node *n, int *keep)
{
	int e;

	*keep = 1;
	if (n->nopen++ > 0) {
		fs_edit_refresh(fs, n);
		return 0;
	}
	n->unlinked = 0;
	n->dirty = 0;
	n->toobig = 0;
	n->created = 0;
	if ((e = edit_load_buf(fs, n, 1, keep)) != 0)
		n->nopen--;
	return e;
}

int
fs_edit_open(struct fs *fs, struct fs_node *n, int flags, int create, int *keep)
{
	int e;

	*keep = 0;
	if (create) {
		/* A new record: its content is what gets written. */
		if (n->nopen++ == 0) {
			char id[NAME_MAX_BYTES + 1], *base = NULL;
			size_t baselen = 0;

			edit_drop(n);
			n->unlinked = 0;
			n->toobig = 0;
			n->created = 1;
			/* Re-created within the grace of its delete: one edit of
			 * what was there (pending.c). */
			if (record_file_id(n->name, id) == 0)
				fs_pending_take(fs, fs_coll_of(fs, n), id, &base, &baselen);
			if (edit_set_base(n, base, baselen))
				edit_set_base(n, NULL, 0); /* no memory: a whole write */
			free(base);
		}
		n->dirty = 1;
	} else if ((e = edit_hold(fs, n, keep)) != 0) {
		return e;
	}
	if (flags & O_TRUNC) {
		n->len = 0;
		n->dirty = 1;
		*keep = 0;
	}
	return 0;
}

void
fs_edit_close(struct fs *fs, struct fs_node *n)
{
	int e;

	if (--n->nopen > 0)
		return;
	if ((e = fs_edit_commit(fs, n)) != 0 && e != EINVAL && e != EFBIG)
		fs_log("%s/%s: write lost: %s", fs_coll_of(fs, n), n->name, strerror(e));
	edit_drop(n);
	edit_set_base(n, NULL, 0);
}

static int
edit_resize(struct fs_node *n, size_t len)
{
	char *p;

	if (len > RECORD_MAX_BYTES)
		return EFBIG;
	if (len > n->cap) {
		size_t cap = n->cap ? n->cap : 256;

		while (cap < len)
			cap *= 2;
		if ((p = realloc(n->buf, cap)) == NULL)
			return ENOMEM;
		n->buf = p;
		n->cap = cap;
	}
	if (len > n->len)
		memset(n->buf + n->len, 0, len - n->len);
	n->len = len;
	n->dirty = 1;
	return 0;
}

int
fs_edit_write(struct fs_node *n, const char *buf, size_t size, off_t off, int append, size_t *done)
{
	size_t end;
	int e;

	if (append)
		off = n->len;
	if (off < 0)
		return EINVAL;
	end = (size_t)off + size;
	if (end > n->len && (e = edit_resize(n, end)) != 0) {
		if (e == EFBIG)
			n->toobig = 1; /* the close says so too, and commits nothing */
		return e;
	}
	memcpy(n->buf + off, buf, size);
	n->dirty = 1;
	n->toobig = 0; /* a writer that went on after EFBIG wrote what it meant */
	*done = size;
	return 0;
}

/* Truncating an open record edits its buffer, a closed one commits at once. */
int
fs_edit_truncate(struct fs *fs, struct fs_node *n, off_t size)
{
	int keep, e, c;

	if (size < 0)
		return EINVAL;
	if ((e = edit_hold(fs, n, &keep)) != 0)
		return e;
	e = edit_resize(n, (size_t)size);
	c = n->nopen == 1 ? fs_edit_commit(fs, n) : 0;
	fs_edit_close(fs, n);
	return e ? e : c;
}
