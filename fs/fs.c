/*
 * fs: the FUSE low-level operations.  Each op is a thin wrapper that calls a
 * do-the-work function returning an errno and replies exactly once.
 *
 * Documented choices:
 * - Records are 0644 regular files owned by the mounting user; chmod, chown
 *   and utimens on them are accepted and ignored (the mtime is that of the
 *   record's last change).
 * - Renaming a collection fails with EXDEV: mv then copies and deletes, which
 *   works record by record.
 * - A dirty record buffer is committed at flush (close) and fsync.  An empty
 *   buffer is only committed at the last release (shells close a redirected
 *   descriptor once before writing through its copy); it is invalid JSON, so
 *   it becomes a rejected write.
 * - Renaming a scratch file over a record writes the record; invalid content
 *   is stored as a rejected write and the rename fails with EINVAL, leaving
 *   the scratch file in place.  Renaming a record to a scratch name copies
 *   its bytes into the scratch file and deletes the record (EBUSY while the
 *   record is open).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/change.h"
#include "core/journal.h"
#include "core/record.h"
#include "fs/fs.h"
#include "fs/node.h"

#define TIMEOUT 1.0 /* seconds the kernel may cache entries and attributes */
#define UNKNOWN_INO 0xffffffffu
#define PATHLEN (NAME_MAX_BYTES + NAME_MAX + 2)
#define XATTR_CONFLICTS "user.blazefs.conflicts"
#define XATTR_VERSION "user.blazefs.version"

/* Every open file and directory, so that shutdown frees what the kernel
 * never released. */
struct fs_open {
	struct fs_open *prev, *next;
	int is_dir;
};

struct fs {
	struct fs_table t;
	struct fs_open opens; /* list head; fuse thread only */
	struct journal *j;
	struct fuse_session *se;
	char *db;
	fs_status_fn *status; /* the network's state, or NULL */
	void *status_ctx;
	int scratchfd; /* DB/scratch: one directory per collection */
	uid_t uid;
	gid_t gid;
	time_t started;
};

/* An open file. */
struct fs_handle {
	struct fs_open link;
	enum fs_kind kind; /* what the node was at open: it may be renamed since */
	int fd;            /* scratch */
	int append;        /* record opened with O_APPEND */
	char *text;        /* .blazefs file snapshot */
	size_t len;
};

/* A position in a directory listing. */
struct dpos {
	int phase;
	size_t i;
	char cursor[NAME_MAX_BYTES + 1];
};

enum { PH_DOT, PH_DOTDOT, PH_META, PH_LIST, PH_SCRATCH, PH_END };

/* An open directory: scratch names (type byte + name) and the positions after
 * each entry of the last reply, so the kernel may resume anywhere in it. */
struct fs_dir {
	struct fs_open link;
	char **scratch;
	size_t nscratch;
	struct dpos *marks;
	size_t nmarks;
	off_t base;
};

static const char *const meta_names[] = {"conflicts", "errors", "peers", "status"};

void
fs_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(LOG_NOTICE, fmt, ap);
	va_end(ap);
}

static void
open_link(struct fs *fs, struct fs_open *o, int is_dir)
{
	o->is_dir = is_dir;
	o->next = fs->opens.next;
	o->prev = &fs->opens;
	o->next->prev = o;
	fs->opens.next = o;
}

static void
open_unlink(struct fs_open *o)
{
	o->prev->next = o->next;
	o->next->prev = o->prev;
}

static struct fs *
fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fs_node *
node_of(struct fs *fs, fuse_ino_t ino)
{
	return fs_node_get(&fs->t, ino);
}

static struct fs_handle *
handle_of(struct fuse_file_info *fi)
{
	return (struct fs_handle *)(uintptr_t)fi->fh;
}

/* The collection holding n (a record or scratch file). */
static const char *
coll_of(struct fs *fs, const struct fs_node *n)
{
	struct fs_node *p = node_of(fs, n->parent);

	return p ? p->name : "";
}

/* "coll/name" under the scratch directory. */
static int
scratch_path(char *out, const char *coll, const char *name)
{
	int r = snprintf(out, PATHLEN, "%s/%s", coll, name);

	return r < 0 || r >= PATHLEN ? ENAMETOOLONG : 0;
}

static int
scratch_mkdir(struct fs *fs, const char *coll)
{
	if (mkdirat(fs->scratchfd, coll, 0700) && errno != EEXIST)
		return errno;
	return 0;
}

static void
set_times(struct stat *st, time_t sec, long nsec)
{
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = sec;
	st->st_atim.tv_nsec = st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = nsec;
}

/* ---- records ---- */

/* The bytes a read shows: a rejected write, else the record.  malloc'd. */
static int
record_load(struct fs *fs, const char *coll, const char *id, char **buf, size_t *len)
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

/* Size and mtime of record n, from its buffer, a rejected write or the journal. */
static int
record_attr(struct fs *fs, struct fs_node *n, struct stat *st)
{
	struct journal_stat js = {0};
	char id[NAME_MAX_BYTES + 1], *buf, *why;
	size_t len;
	int have;

	if (record_file_id(n->name, id))
		return ENOENT;
	have = journal_stat_record(fs->j, coll_of(fs, n), id, &js) == 0;
	if (!have && errno != ENOENT)
		return errno;
	if (n->nopen > 0 && !n->unlinked) {
		st->st_size = n->len;
	} else if (journal_reject_get(fs->j, coll_of(fs, n), id, &buf, &len, &why) == 0) {
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
		set_times(st, js.mtime_ms / 1000, (js.mtime_ms % 1000) * 1000000);
	else
		set_times(st, time(NULL), 0);
	return 0;
}

static uint64_t
record_version(struct fs *fs, struct fs_node *n)
{
	struct journal_stat js;
	char id[NAME_MAX_BYTES + 1];

	if (record_file_id(n->name, id) || journal_stat_record(fs->j, coll_of(fs, n), id, &js))
		return 0;
	return js.version;
}

/* Makes the edit base of n a copy of buf (NULL: none).  0 or ENOMEM. */
static int
record_set_base(struct fs_node *n, const char *buf, size_t len)
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

/*
 * Commits the dirty buffer of n as one change: an edit of what this device
 * read, so changes that arrived while the file was open are kept (DESIGN §2:
 * nothing is silently lost).  Invalid content is kept as a rejected write and
 * gives EINVAL.
 */
static int
record_commit(struct fs *fs, struct fs_node *n)
{
	char id[NAME_MAX_BYTES + 1];
	const char *coll = coll_of(fs, n), *why = "invalid record";
	uint64_t v;
	int e;

	if (!n->dirty || n->unlinked)
		return 0;
	if (record_file_id(n->name, id))
		return EIO;
	if (journal_edit_record(fs->j, coll, id, n->base, n->baselen, n->buf ? n->buf : "", n->len,
	                        &why) == 0) {
		n->dirty = 0;
		if (record_set_base(n, n->buf ? n->buf : "", n->len))
			record_set_base(n, NULL, 0); /* no memory: a plain write next time */
		if (journal_reject_del(fs->j, coll, id) && errno != ENOENT)
			fs_log("%s/%s: cannot clear the rejected write: %s", coll, n->name,
			       strerror(errno));
		v = record_version(fs, n);
		pthread_mutex_lock(&fs->t.lock);
		n->cached_version = v;
		pthread_mutex_unlock(&fs->t.lock);
		return 0;
	}
	if ((e = errno) != EINVAL && e != EFBIG)
		return e;
	n->dirty = 0;
	fs_log("%s/%s: write rejected: %s", coll, n->name, why);
	if (journal_reject_put(fs->j, coll, id, why, n->buf ? n->buf : "", n->len))
		fs_log("%s/%s: cannot keep the rejected bytes: %s", coll, n->name, strerror(errno));
	return EINVAL;
}

/* Loads the buffer of an open record from the journal, and the edit base
 * with it if with_base.  Sets *keep if the kernel's cache of the content is
 * still valid. */
static int
record_load_buf(struct fs *fs, struct fs_node *n, int with_base, int *keep)
{
	char id[NAME_MAX_BYTES + 1];
	uint64_t v;
	int e;

	free(n->buf);
	n->buf = NULL;
	n->len = n->cap = 0;
	if (record_file_id(n->name, id))
		return ENOENT;
	if ((e = record_load(fs, coll_of(fs, n), id, &n->buf, &n->len)) != 0 ||
	    (with_base && (e = record_set_base(n, n->buf, n->len)) != 0))
		return e;
	n->cap = n->len;
	v = record_version(fs, n);
	pthread_mutex_lock(&fs->t.lock);
	*keep = v != 0 && v == n->cached_version;
	n->cached_version = v;
	pthread_mutex_unlock(&fs->t.lock);
	return 0;
}

/*
 * While a record is open, a change from elsewhere (the observer zeroes
 * cached_version) shows at the next open or read, unless this device has
 * unsaved writes in the buffer: those win at close, as an edit.  The edit
 * base stays what the handles first read: a writer that never read again
 * must not undo the change (and one that did writes it back, a no-op).
 */
static void
record_refresh(struct fs *fs, struct fs_node *n)
{
	int stale, keep;

	pthread_mutex_lock(&fs->t.lock);
	stale = n->cached_version == 0;
	pthread_mutex_unlock(&fs->t.lock);
	if (stale && !n->dirty && !n->unlinked && record_load_buf(fs, n, 0, &keep))
		fs_log("%s/%s: cannot reload after a remote change", coll_of(fs, n), n->name);
}

/* Loads the buffer of n on its first open. */
static int
record_hold(struct fs *fs, struct fs_node *n, int *keep)
{
	int e;

	*keep = 1;
	if (n->nopen++ > 0) {
		record_refresh(fs, n);
		return 0;
	}
	n->unlinked = 0;
	n->dirty = 0;
	if ((e = record_load_buf(fs, n, 1, keep)) != 0)
		n->nopen--;
	return e;
}

/* Drops one open of n, committing a dirty buffer at the last one. */
static void
record_unhold(struct fs *fs, struct fs_node *n)
{
	int e;

	if (--n->nopen > 0)
		return;
	if ((e = record_commit(fs, n)) != 0 && e != EINVAL)
		fs_log("%s/%s: write lost: %s", coll_of(fs, n), n->name, strerror(e));
	free(n->buf);
	n->buf = NULL;
	n->len = n->cap = 0;
	record_set_base(n, NULL, 0);
}

static int
record_resize(struct fs_node *n, size_t len)
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

/* Does record `fname` exist in collection node p (open, rejected or stored)? */
static int
record_exists(struct fs *fs, struct fs_node *p, const char *fname)
{
	struct fs_node *n = fs_node_find(&fs->t, p->ino, fname);
	struct stat st;

	if (n && n->kind == FS_RECORD)
		return record_attr(fs, n, &st) == 0;
	else {
		struct fs_node tmp = {.parent = p->ino, .name = (char *)fname};

		return record_attr(fs, &tmp, &st) == 0;
	}
}

/* ---- .blazefs ---- */

/* A snapshot of the network's state (a new reference), or NULL if there is
 * no network: fs/ knows nothing of it but what its status source says. */
static json_t *
meta_net(struct fs *fs)
{
	return fs->status ? fs->status(fs->status_ctx) : NULL;
}

static char *
meta_peers(struct fs *fs)
{
	json_t *o = meta_net(fs), *p = o ? json_object_get(o, "peers") : NULL;
	char *s = p ? json_dumps(p, JSON_INDENT(2) | JSON_SORT_KEYS) : strdup("[]");

	json_decref(o);
	return s;
}

/* The version vector as {devid: seq}.  A new reference, or NULL. */
static json_t *
meta_vv(struct fs *fs)
{
	struct vv v = {0};
	json_t *o;

	if (journal_vv(fs->j, &v))
		return NULL;
	if ((o = json_object()) == NULL)
		goto err0;
	for (size_t i = 0; i < v.n; i++) {
		char d[DEVID_LEN + 1];

		change_devid(v.e[i].origin, d);
		if (json_object_set_new(o, d, json_integer((json_int_t)v.e[i].seq)))
			goto err1;
	}
	vv_clear(&v);
	return o;
err1:
	json_decref(o);
err0:
	vv_clear(&v);
	errno = ENOMEM;
	return NULL;
}

static char *
meta_status(struct fs *fs)
{
	char dev[DEVID_LEN + 1], hex[65];
	uint8_t dbid[32];
	uint64_t ncols = 0, nrecs = 0, nconf = 0;
	json_t *o, *vvo, *net;
	/* Changes some connected peer still lacks (the network counts them). */
	json_int_t pending;
	void *name = NULL;
	size_t namelen = 0;
	char *s;

	change_devid(journal_self(fs->j), dev);
	journal_dbid(fs->j, dbid);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", dbid[i]);
	if (journal_counts(fs->j, &ncols, &nrecs, &nconf) || (vvo = meta_vv(fs)) == NULL)
		return NULL;
	if (journal_meta_get(fs->j, "name", &name, &namelen))
		name = NULL;
	net = meta_net(fs);
	pending = net ? json_integer_value(json_object_get(net, "pending")) : 0;
	json_decref(net);
	/* "o" hands vvo over to o, even when the pack fails. */
	o = json_pack("{s:s, s:s%, s:s, s:I, s:I, s:I, s:o, s:I}", "device", dev, "name",
	              name ? (char *)name : "", name ? namelen : 0, "database", hex, "collections",
	              (json_int_t)ncols, "records", (json_int_t)nrecs, "conflicts",
	              (json_int_t)nconf, "version_vector", vvo, "pending", pending);
	free(name);
	if (o == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if ((s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		errno = ENOMEM;
	json_decref(o);
	return s;
}

/* The text of a .blazefs file, with a trailing newline (malloc'd). */
static int
meta_text(struct fs *fs, const char *name, char **text, size_t *len)
{
	char *s, *t;

	if (strcmp(name, "status") == 0)
		s = meta_status(fs);
	else if (strcmp(name, "conflicts") == 0)
		s = journal_conflicts_json(fs->j, NULL, NULL);
	else if (strcmp(name, "errors") == 0)
		s = journal_rejects_json(fs->j);
	else if (strcmp(name, "peers") == 0)
		s = meta_peers(fs);
	else
		return ENOENT;
	if (s == NULL)
		return errno ? errno : EIO;
	*len = strlen(s);
	if ((t = realloc(s, *len + 2)) == NULL) {
		free(s);
		return ENOMEM;
	}
	t[(*len)++] = '\n';
	t[*len] = '\0';
	*text = t;
	return 0;
}

static int
is_meta_name(const char *name)
{
	for (size_t i = 0; i < sizeof(meta_names) / sizeof(meta_names[0]); i++)
		if (strcmp(name, meta_names[i]) == 0)
			return 1;
	return 0;
}

/* ---- attributes and lookup ---- */

static int
do_getattr(struct fs *fs, struct fs_node *n, struct stat *st)
{
	char path[PATHLEN], *text;
	size_t len;
	int e;

	memset(st, 0, sizeof(*st));
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	set_times(st, fs->started, 0);
	switch (n->kind) {
	case FS_ROOT:
	case FS_COLL:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		break;
	case FS_METADIR:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		break;
	case FS_METAFILE:
		if ((e = meta_text(fs, n->name, &text, &len)) != 0)
			return e;
		free(text);
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = len;
		set_times(st, time(NULL), 0);
		break;
	case FS_RECORD:
		if ((e = record_attr(fs, n, st)) != 0)
			return e;
		break;
	case FS_SCRATCH:
		if ((e = scratch_path(path, coll_of(fs, n), n->name)) != 0)
			return e;
		if (fstatat(fs->scratchfd, path, st, AT_SYMLINK_NOFOLLOW))
			return errno;
		break;
	}
	st->st_ino = n->ino;
	return 0;
}

/* What kind name in parent p would be; 0 or an errno if it cannot exist. */
static int
kind_in(const struct fs_node *p, const char *name, enum fs_kind *kind)
{
	char id[NAME_MAX_BYTES + 1];

	switch (p->kind) {
	case FS_ROOT:
		if (strcmp(name, ".blazefs") == 0)
			*kind = FS_METADIR;
		else if (record_name_valid(name, strlen(name)) == 0)
			*kind = FS_COLL;
		else
			return errno;
		return 0;
	case FS_METADIR:
		*kind = FS_METAFILE;
		return 0;
	case FS_COLL:
		*kind = record_file_id(name, id) == 0 ? FS_RECORD : FS_SCRATCH;
		return 0;
	default:
		return ENOTDIR;
	}
}

/* Replies an entry for name in parent; raises its lookup count. */
static int
do_lookup(struct fs *fs, fuse_ino_t parent, const char *name, struct fuse_entry_param *e)
{
	struct fs_node *p = node_of(fs, parent), *n, tmp = {.parent = parent};
	enum fs_kind kind;
	int r;

	if (p == NULL)
		return ENOENT;
	if ((r = kind_in(p, name, &kind)) != 0)
		return r == ENAMETOOLONG ? r : ENOENT;
	if (kind == FS_METAFILE && !is_meta_name(name))
		return ENOENT;
	if (kind == FS_COLL) {
		if ((r = journal_col_exists(fs->j, name)) < 0)
			return errno;
		if (r == 0)
			return ENOENT;
	}
	/* Stat before making a node so a miss leaves none behind. */
	tmp.kind = kind;
	tmp.name = (char *)name;
	if ((n = fs_node_find(&fs->t, parent, name)) == NULL || n->kind != kind)
		n = &tmp;
	memset(e, 0, sizeof(*e));
	if ((r = do_getattr(fs, n, &e->attr)) != 0)
		return r;
	if ((n = fs_node_lookup(&fs->t, parent, name, kind)) == NULL)
		return ENOMEM;
	e->ino = n->ino;
	e->attr.st_ino = n->ino;
	e->attr_timeout = TIMEOUT;
	e->entry_timeout = TIMEOUT;
	return 0;
}

static void
fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int r = do_lookup(fs_of(req), parent, name, &e);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_entry(req, &e);
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
	struct fs *fs = fs_of(req);
	struct fs_node *n = node_of(fs, ino);
	struct stat st;
	int r = n ? do_getattr(fs, n, &st) : ENOENT;

	(void)fi;
	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

static int
scratch_setattr(struct fs *fs, struct fs_node *n, struct stat *a, int set,
                struct fuse_file_info *fi)
{
	char path[PATHLEN];
	int fd = fi ? handle_of(fi)->fd : -1, e;

	if ((e = scratch_path(path, coll_of(fs, n), n->name)) != 0)
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

/* Only a record's size can change: truncating an open record edits its
 * buffer, truncating a closed one commits at once. */
static int
record_truncate(struct fs *fs, struct fs_node *n, off_t size)
{
	int keep, e, c;

	if (size < 0)
		return EINVAL;
	if ((e = record_hold(fs, n, &keep)) != 0)
		return e;
	e = record_resize(n, (size_t)size);
	c = n->nopen == 1 ? record_commit(fs, n) : 0;
	record_unhold(fs, n);
	return e ? e : c;
}

static void
fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
              struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = node_of(fs, ino);
	struct stat st;
	int r = 0;

	if (n == NULL)
		r = ENOENT;
	else if (n->kind == FS_SCRATCH && (!fi || handle_of(fi)->kind == FS_SCRATCH))
		r = scratch_setattr(fs, n, attr, to_set, fi);
	else if (n->kind == FS_METAFILE && (to_set & FUSE_SET_ATTR_SIZE))
		r = EROFS;
	else if (n->kind == FS_RECORD && (to_set & FUSE_SET_ATTR_SIZE))
		r = record_truncate(fs, n, attr->st_size);
	if (r == 0)
		r = do_getattr(fs, n, &st);
	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

/* ---- directories ---- */

static int
do_mkdir(struct fs *fs, fuse_ino_t parent, const char *name, struct fuse_entry_param *e)
{
	struct fs_node *p = node_of(fs, parent);

	if (p == NULL)
		return ENOENT;
	if (p->kind == FS_METADIR)
		return EROFS;
	if (p->kind == FS_COLL) {
		fs_log("%s/%s: nested directories are not supported", p->name, name);
		return EPERM;
	}
	if (p->kind != FS_ROOT)
		return ENOTDIR;
	if (strcmp(name, ".blazefs") == 0)
		return EEXIST;
	if (record_name_valid(name, strlen(name))) {
		int r = errno;

		fs_log("%s: not a valid collection name", name);
		return r;
	}
	if (journal_mkcol(fs->j, name))
		return errno;
	return do_lookup(fs, parent, name, e);
}

static void
fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	int r = do_mkdir(fs_of(req), parent, name, &e);

	(void)mode;
	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_entry(req, &e);
}

/* Is the scratch directory of coll empty (or absent)? */
static int
scratch_empty(struct fs *fs, const char *coll)
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

static int
do_rmdir(struct fs *fs, fuse_ino_t parent, const char *name)
{
	struct fs_node *p = node_of(fs, parent), *n;
	int r;

	if (p == NULL)
		return ENOENT;
	if (p->kind == FS_COLL)
		return ENOTDIR;
	if (p->kind != FS_ROOT || strcmp(name, ".blazefs") == 0)
		return EPERM;
	if (record_name_valid(name, strlen(name)))
		return ENOENT;
	if ((r = scratch_empty(fs, name)) < 0)
		return errno;
	if (r == 0)
		return ENOTEMPTY;
	if (journal_rmcol(fs->j, name))
		return errno;
	if (unlinkat(fs->scratchfd, name, AT_REMOVEDIR) && errno != ENOENT)
		fs_log("%s: cannot remove the scratch directory: %s", name, strerror(errno));
	if ((n = fs_node_find(&fs->t, parent, name)) != NULL)
		fs_node_unname(&fs->t, n);
	return 0;
}

static void
fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, do_rmdir(fs_of(req), parent, name));
}

static void
dir_free(struct fs_dir *d)
{
	if (d == NULL)
		return;
	if (d->link.next)
		open_unlink(&d->link);
	for (size_t i = 0; i < d->nscratch; i++)
		free(d->scratch[i]);
	free(d->scratch);
	free(d->marks);
	free(d);
}

/* Reads the names of coll's scratch files, each prefixed by its d_type. */
static int
dir_load_scratch(struct fs *fs, struct fs_dir *d, const char *coll)
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
		if ((a = realloc(d->scratch, (d->nscratch + 1) * sizeof(*a))) == NULL ||
		    asprintf(&s, "%c%s", (char)de->d_type, de->d_name) < 0) {
			if (a)
				d->scratch = a;
			e = ENOMEM;
			break;
		}
		d->scratch = a;
		d->scratch[d->nscratch++] = s;
	}
	closedir(dir);
	return e;
}

static int
do_opendir(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_node *n = node_of(fs, ino);
	struct fs_dir *d;
	int r = 0;

	if (n == NULL)
		return ENOENT;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return ENOMEM;
	open_link(fs, &d->link, 1);
	if (n->kind == FS_COLL && (r = dir_load_scratch(fs, d, n->name)) != 0) {
		dir_free(d);
		return r;
	}
	fi->fh = (uintptr_t)d;
	return 0;
}

static void
fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int r = do_opendir(fs_of(req), ino, fi);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_open(req, fi);
}

struct dirfill {
	fuse_req_t req;
	struct fs *fs;
	struct fs_node *dir;
	struct fs_dir *d;
	char *buf;
	size_t size, used;
	off_t off;
	struct dpos pos;
	int full, err;
};

/* Remembers f->pos as where the entry at the next offset resumes. */
static int
emit_mark(struct dirfill *f)
{
	struct dpos *m;

	if ((m = realloc(f->d->marks, (f->d->nmarks + 1) * sizeof(*m))) == NULL) {
		f->err = ENOMEM;
		return -1;
	}
	f->d->marks = m;
	f->d->marks[f->d->nmarks++] = f->pos;
	return 0;
}

/* Adds one entry; records the position after it.  -1 when the reply is full. */
static int
emit(struct dirfill *f, const char *name, mode_t type)
{
	struct fs_node *n = fs_node_find(&f->fs->t, f->dir->ino, name);
	struct stat st = {.st_ino = n ? n->ino : UNKNOWN_INO, .st_mode = type};
	size_t need;

	need =
	    fuse_add_direntry(f->req, f->buf + f->used, f->size - f->used, name, &st, f->off + 1);
	if (need > f->size - f->used) {
		f->full = 1;
		return -1;
	}
	if (emit_mark(f))
		return -1;
	f->used += need;
	f->off++;
	return 0;
}

static int
list_cb(void *ctx, const char *name)
{
	struct dirfill *f = ctx;
	char fname[NAME_MAX_BYTES + 8];
	struct dpos save = f->pos;

	if (f->dir->kind == FS_COLL)
		snprintf(fname, sizeof(fname), "%s.json", name);
	else
		snprintf(fname, sizeof(fname), "%s", name);
	snprintf(f->pos.cursor, sizeof(f->pos.cursor), "%s", name);
	if (emit(f, fname, f->dir->kind == FS_COLL ? S_IFREG : S_IFDIR)) {
		f->pos = save;
		return 1;
	}
	return 0;
}

static int
dtype_mode(unsigned char t)
{
	return t == DT_LNK ? S_IFLNK : t == DT_DIR ? S_IFDIR : S_IFREG;
}

/* Emits entries from f->pos until the reply is full or the listing ends. */
static void
dir_fill(struct dirfill *f)
{
	struct dpos *p = &f->pos;
	int r;

	while (!f->full && !f->err && p->phase != PH_END) {
		switch (p->phase) {
		case PH_DOT:
			p->phase = PH_DOTDOT;
			if (emit(f, ".", S_IFDIR))
				p->phase = PH_DOT;
			break;
		case PH_DOTDOT:
			p->phase = f->dir->kind == FS_COLL ? PH_LIST : PH_META;
			if (emit(f, "..", S_IFDIR))
				p->phase = PH_DOTDOT;
			break;
		case PH_META:
			/* The root lists .blazefs; .blazefs lists its files. */
			if (f->dir->kind == FS_ROOT) {
				p->phase = PH_LIST;
				if (emit(f, ".blazefs", S_IFDIR))
					p->phase = PH_META;
			} else if (p->i < sizeof(meta_names) / sizeof(meta_names[0])) {
				p->i++;
				if (emit(f, meta_names[p->i - 1], S_IFREG))
					p->i--;
			} else {
				p->phase = PH_END;
			}
			break;
		case PH_LIST:
			if (f->dir->kind == FS_ROOT)
				r = journal_list_cols(f->fs->j, p->cursor, list_cb, f);
			else
				r = journal_list_records(f->fs->j, f->dir->name, p->cursor, list_cb,
				                         f);
			if (r < 0) {
				f->err = errno;
			} else if (!f->full && !f->err) {
				p->phase = f->dir->kind == FS_COLL ? PH_SCRATCH : PH_END;
				p->i = 0;
			}
			break;
		case PH_SCRATCH:
			if (p->i < f->d->nscratch) {
				const char *s = f->d->scratch[p->i++];

				if (emit(f, s + 1, dtype_mode((unsigned char)s[0])))
					p->i--;
			} else {
				p->phase = PH_END;
			}
			break;
		}
	}
}

/*
 * Fills *buf (malloc'd) with *used bytes of entries from offset off.  A
 * failure after some entries still returns them: the next readdir reports it.
 */
static int
do_readdir(struct fs *fs, fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fs_dir *d,
           char **buf, size_t *used)
{
	struct dirfill f = {.req = req, .fs = fs, .d = d, .size = size, .off = off};

	if ((f.dir = node_of(fs, ino)) == NULL)
		return ENOENT;
	if (off == 0)
		f.pos.phase = PH_DOT;
	else if (d->nmarks && off >= d->base && (size_t)(off - d->base) < d->nmarks)
		f.pos = d->marks[off - d->base];
	else
		return EINVAL; /* only positions of the last reply */
	d->nmarks = 0;
	d->base = off;
	if ((f.buf = malloc(size)) == NULL || emit_mark(&f)) {
		free(f.buf);
		return ENOMEM;
	}
	dir_fill(&f);
	if (f.err && f.used == 0) {
		free(f.buf);
		return f.err;
	}
	*buf = f.buf;
	*used = f.used;
	return 0;
}

static void
fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	char *buf = NULL;
	size_t used = 0;
	int r = do_readdir(fs_of(req), req, ino, size, off, (struct fs_dir *)(uintptr_t)fi->fh,
	                   &buf, &used);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void
fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dir_free((struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- files ---- */

static int
handle_new(struct fs *fs, struct fuse_file_info *fi, enum fs_kind kind, int fd)
{
	struct fs_handle *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return ENOMEM;
	open_link(fs, &h->link, 0);
	h->kind = kind;
	h->fd = fd;
	h->append = (fi->flags & O_APPEND) != 0;
	fi->fh = (uintptr_t)h;
	return 0;
}

static void
handle_free(struct fs_handle *h)
{
	open_unlink(&h->link);
	if (h->fd >= 0)
		close(h->fd);
	free(h->text);
	free(h);
}

/* Closes the handle in fi of node n (NULL if forgotten). */
static void
handle_close(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi)
{
	struct fs_handle *h = handle_of(fi);

	if (h->kind == FS_RECORD && n) {
		record_unhold(fs, n);
		fs_node_release(&fs->t, n);
	}
	handle_free(h);
}

static int
scratch_open(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi, mode_t mode)
{
	char path[PATHLEN];
	const char *coll = coll_of(fs, n);
	int fd, e;

	if ((e = scratch_path(path, coll, n->name)) != 0)
		return e;
	if ((fi->flags & O_CREAT) && (e = scratch_mkdir(fs, coll)) != 0)
		return e;
	if ((fd = openat(fs->scratchfd, path, fi->flags & ~O_NOCTTY, mode)) < 0)
		return errno;
	if ((e = handle_new(fs, fi, FS_SCRATCH, fd)) != 0)
		close(fd);
	fi->noflush = 1; /* nothing to do at close: saves a round trip */
	return e;
}

static int
record_open(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi, int create)
{
	int keep = 0, e;

	if (create) {
		/* A new record: its content is what gets written. */
		if (n->nopen++ == 0) {
			free(n->buf);
			n->buf = NULL;
			n->len = n->cap = 0;
			n->unlinked = 0;
			record_set_base(n, NULL, 0);
		}
		n->dirty = 1;
	} else if ((e = record_hold(fs, n, &keep)) != 0) {
		return e;
	}
	if (fi->flags & O_TRUNC) {
		n->len = 0;
		n->dirty = 1;
		keep = 0;
	}
	if ((e = handle_new(fs, fi, FS_RECORD, -1)) != 0) {
		record_unhold(fs, n);
		return e;
	}
	fi->keep_cache = keep;
	/* A reader's close commits nothing: the kernel need not tell us. */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
	return 0;
}

static int
do_open(struct fs *fs, struct fs_node *n, struct fuse_file_info *fi)
{
	struct fs_handle *h;
	int e;

	switch (n->kind) {
	case FS_RECORD:
		return record_open(fs, n, fi, 0);
	case FS_SCRATCH:
		return scratch_open(fs, n, fi, 0);
	case FS_METAFILE:
		if ((fi->flags & O_ACCMODE) != O_RDONLY)
			return EROFS;
		if ((e = handle_new(fs, fi, FS_METAFILE, -1)) != 0)
			return e;
		h = handle_of(fi);
		if ((e = meta_text(fs, n->name, &h->text, &h->len)) != 0) {
			handle_free(h);
			return e;
		}
		fi->direct_io = 1;
		fi->noflush = 1;
		return 0;
	default:
		return EISDIR;
	}
}

static void
fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = node_of(fs, ino);
	int r = n ? do_open(fs, n, fi) : ENOENT;

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_open(req, fi);
}

/* Checks that a file named name may be made in parent p; sets its kind. */
static int
may_create(struct fs_node *p, const char *name, enum fs_kind *kind)
{
	if (p->kind == FS_METADIR)
		return EROFS;
	if (p->kind == FS_ROOT) {
		fs_log("%s: only collections (directories) can be made at the root", name);
		return EPERM;
	}
	if (p->kind != FS_COLL)
		return ENOTDIR;
	return kind_in(p, name, kind);
}

static int
do_create(struct fs *fs, fuse_ino_t parent, const char *name, mode_t mode,
          struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	struct fs_node *p = node_of(fs, parent), *n;
	enum fs_kind kind;
	int r;

	if (p == NULL)
		return ENOENT;
	if ((r = may_create(p, name, &kind)) != 0)
		return r;
	if ((n = fs_node_lookup(&fs->t, parent, name, kind)) == NULL)
		return ENOMEM;
	if (kind == FS_SCRATCH)
		r = scratch_open(fs, n, fi, mode);
	else if (!record_exists(fs, p, name))
		r = record_open(fs, n, fi, 1);
	else
		r = fi->flags & O_EXCL ? EEXIST : record_open(fs, n, fi, 0);
	memset(e, 0, sizeof(*e));
	if (r == 0 && (r = do_getattr(fs, n, &e->attr)) != 0)
		handle_close(fs, n, fi);
	if (r) {
		fs_node_forget(&fs->t, n->ino, 1);
		return r;
	}
	e->ino = n->ino;
	e->attr_timeout = TIMEOUT;
	e->entry_timeout = TIMEOUT;
	return 0;
}

static void
fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
             struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int r = do_create(fs_of(req), parent, name, mode, fi, &e);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_create(req, &e, fi);
}

/*
 * Sets *out to at most size bytes at off of the file open as h: a slice of
 * the handle's or node's bytes, or of *tofree (malloc'd) for a scratch file.
 */
static int
do_read(struct fs *fs, fuse_ino_t ino, size_t size, off_t off, struct fs_handle *h,
        const char **out, size_t *outlen, char **tofree)
{
	struct fs_node *n;
	const char *src = NULL;
	size_t len = 0;
	ssize_t got;

	*out = NULL;
	*outlen = 0;
	*tofree = NULL;
	switch (h->kind) {
	case FS_SCRATCH:
		if ((*tofree = malloc(size)) == NULL)
			return ENOMEM;
		if ((got = pread(h->fd, *tofree, size, off)) < 0)
			return errno;
		*out = *tofree;
		*outlen = got;
		return 0;
	case FS_METAFILE:
		src = h->text;
		len = h->len;
		break;
	default:
		if ((n = node_of(fs, ino)) == NULL)
			return EBADF;
		record_refresh(fs, n);
		src = n->buf;
		len = n->len;
		break;
	}
	if (off >= 0 && (size_t)off < len) {
		*out = src + off;
		*outlen = len - off < size ? len - off : size;
	}
	return 0;
}

static void
fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	const char *out;
	size_t len;
	char *tofree;
	int r = do_read(fs_of(req), ino, size, off, handle_of(fi), &out, &len, &tofree);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_buf(req, out, len);
	free(tofree);
}

static int
do_write(struct fs *fs, fuse_ino_t ino, const char *buf, size_t size, off_t off,
         struct fs_handle *h, size_t *done)
{
	struct fs_node *n;
	ssize_t w;
	size_t end, len;
	int e;

	if (h->kind == FS_SCRATCH) {
		if ((w = pwrite(h->fd, buf, size, off)) < 0)
			return errno;
		*done = w;
		return 0;
	}
	if (h->kind != FS_RECORD || (n = node_of(fs, ino)) == NULL)
		return EBADF;
	if (h->append)
		off = n->len;
	if (off < 0)
		return EINVAL;
	end = (size_t)off + size;
	len = n->len;
	if (end > len && (e = record_resize(n, end)) != 0)
		return e;
	memcpy(n->buf + off, buf, size);
	n->dirty = 1;
	*done = size;
	return 0;
}

static void
fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
            struct fuse_file_info *fi)
{
	size_t done = 0;
	int r = do_write(fs_of(req), ino, buf, size, off, handle_of(fi), &done);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_write(req, done);
}

static void
fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h = handle_of(fi);
	struct fs_node *n = node_of(fs, ino);
	int r = 0;

	/* An empty record waits for the last release (see the top comment). */
	if (h->kind == FS_RECORD && n && n->len > 0)
		r = record_commit(fs, n);
	fuse_reply_err(req, r);
}

static void
fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);

	handle_close(fs, node_of(fs, ino), fi);
	fuse_reply_err(req, 0);
}

static void
fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h = handle_of(fi);
	struct fs_node *n = node_of(fs, ino);
	int r = 0;

	if (h->kind == FS_SCRATCH)
		r = (datasync ? fdatasync(h->fd) : fsync(h->fd)) ? errno : 0;
	else if (h->kind == FS_RECORD && n && (r = record_commit(fs, n)) == 0 &&
	         journal_sync(fs->j))
		r = errno;
	fuse_reply_err(req, r);
}

/*
 * fsync of a directory: what a careful save (write a temporary, fsync it,
 * rename it over the record, fsync the directory) relies on.  The rename
 * wrote the record into the journal's batch; commit and sync it, and the
 * collection's scratch files with it.
 */
static void
fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = node_of(fs, ino);
	int r = 0, fd;

	(void)datasync;
	(void)fi;
	if (journal_sync(fs->j))
		r = errno;
	else if (n != NULL && n->kind == FS_COLL &&
	         (fd = openat(fs->scratchfd, n->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd))
			r = errno;
		close(fd);
	}
	fuse_reply_err(req, r);
}

/* ---- names ---- */

static int
do_unlink(struct fs *fs, fuse_ino_t parent, const char *name)
{
	struct fs_node *p = node_of(fs, parent), *n = fs_node_find(&fs->t, parent, name);
	char id[NAME_MAX_BYTES + 1], path[PATHLEN];
	int r, had_reject, open = n && n->kind == FS_RECORD && n->nopen > 0 && !n->unlinked;

	if (p == NULL)
		return ENOENT;
	if (p->kind == FS_METADIR)
		return EROFS;
	if (p->kind != FS_COLL)
		return EISDIR;
	if (record_file_id(name, id) == 0) {
		had_reject = journal_reject_del(fs->j, p->name, id) == 0;
		if (journal_delete_record(fs->j, p->name, id) &&
		    (errno != ENOENT || (!had_reject && !open)))
			return errno;
		if (n)
			n->unlinked = 1;
	} else {
		if ((r = scratch_path(path, p->name, name)) != 0)
			return r;
		if (unlinkat(fs->scratchfd, path, 0))
			return errno;
	}
	if (n)
		fs_node_unname(&fs->t, n);
	return 0;
}

static void
fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, do_unlink(fs_of(req), parent, name));
}

/* Reads a scratch file whole, up to one byte more than a record may hold. */
static int
scratch_read(struct fs *fs, const char *path, char **buf, size_t *len)
{
	struct stat st;
	size_t cap = RECORD_MAX_BYTES + 1;
	ssize_t got;
	int fd, e = 0;

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
write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	for (; len > 0; buf += w, len -= w)
		if ((w = write(fd, buf, len)) < 0)
			return errno;
	return 0;
}

/* A node renamed across kinds (scratch <-> record) keeps its inode. */
static int
node_move(struct fs *fs, struct fs_node *n, enum fs_kind kind, fuse_ino_t parent, const char *name)
{
	pthread_mutex_lock(&fs->t.lock);
	n->kind = kind;
	pthread_mutex_unlock(&fs->t.lock);
	return fs_node_rename(&fs->t, n, parent, name) ? ENOMEM : 0;
}

/* Scratch file becomes a record: a write of the record; its inode follows. */
static int
rename_scratch_to_record(struct fs *fs, struct fs_node *p1, const char *n1, struct fs_node *p2,
                         const char *n2, fuse_ino_t *stale)
{
	char path[PATHLEN], id[NAME_MAX_BYTES + 1], *buf = NULL;
	struct fs_node *src = fs_node_find(&fs->t, p1->ino, n1);
	struct fs_node *dst = fs_node_find(&fs->t, p2->ino, n2);
	const char *why = "invalid record";
	size_t len = 0;
	int e;

	if ((e = scratch_path(path, p1->name, n1)) != 0 || (e = scratch_read(fs, path, &buf, &len)))
		return e;
	record_file_id(n2, id);
	if (journal_write_record(fs->j, p2->name, id, buf, len, &why)) {
		e = errno;
		if (e == EINVAL || e == EFBIG) {
			fs_log("%s/%s: write rejected: %s", p2->name, n2, why);
			if (journal_reject_put(fs->j, p2->name, id, why, buf, len))
				fs_log("%s/%s: cannot keep the rejected bytes: %s", p2->name, n2,
				       strerror(errno));
			*stale = fs_node_stale(&fs->t, p2->ino, n2);
			e = EINVAL;
		}
		free(buf);
		return e;
	}
	free(buf);
	if (journal_reject_del(fs->j, p2->name, id) && errno != ENOENT)
		fs_log("%s/%s: cannot clear the rejected write: %s", p2->name, n2, strerror(errno));
	if (unlinkat(fs->scratchfd, path, 0))
		fs_log("%s/%s: cannot remove after rename: %s", p1->name, n1, strerror(errno));
	if (dst && dst != src)
		dst->unlinked = 1;
	return src ? node_move(fs, src, FS_RECORD, p2->ino, n2) : 0;
}

/* Record becomes a scratch file: its bytes are copied, the record deleted. */
static int
rename_record_to_scratch(struct fs *fs, struct fs_node *p1, const char *n1, struct fs_node *p2,
                         const char *n2)
{
	char path[PATHLEN], id[NAME_MAX_BYTES + 1], *buf;
	struct fs_node *src = fs_node_find(&fs->t, p1->ino, n1);
	size_t len;
	int fd, e, had_reject;

	if (src && src->nopen > 0)
		return EBUSY;
	record_file_id(n1, id);
	if ((e = scratch_path(path, p2->name, n2)) != 0 || (e = scratch_mkdir(fs, p2->name)) ||
	    (e = record_load(fs, p1->name, id, &buf, &len)))
		return e;
	if ((fd = openat(fs->scratchfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644)) <
	    0) {
		free(buf);
		return errno;
	}
	e = write_all(fd, buf, len);
	free(buf);
	if (close(fd) && !e)
		e = errno;
	had_reject = journal_reject_del(fs->j, p1->name, id) == 0;
	if (!e && journal_delete_record(fs->j, p1->name, id) && (errno != ENOENT || !had_reject))
		e = errno;
	if (e) {
		unlinkat(fs->scratchfd, path, 0);
		return e;
	}
	return src ? node_move(fs, src, FS_SCRATCH, p2->ino, n2) : 0;
}

static int
rename_record(struct fs *fs, struct fs_node *p1, const char *n1, struct fs_node *p2, const char *n2)
{
	char id1[NAME_MAX_BYTES + 1], id2[NAME_MAX_BYTES + 1];
	struct fs_node *src = fs_node_find(&fs->t, p1->ino, n1);
	struct fs_node *dst = fs_node_find(&fs->t, p2->ino, n2);
	int e;

	if (src && src->nopen > 0 && (e = record_commit(fs, src)) != 0)
		return e;
	record_file_id(n1, id1);
	record_file_id(n2, id2);
	if (journal_rename_record(fs->j, p1->name, id1, p2->name, id2))
		return errno;
	journal_reject_del(fs->j, p1->name, id1);
	journal_reject_del(fs->j, p2->name, id2);
	if (dst && dst != src)
		dst->unlinked = 1;
	if (src && fs_node_rename(&fs->t, src, p2->ino, n2))
		return ENOMEM;
	return 0;
}

static int
do_rename(struct fs *fs, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
          const char *newname, unsigned int flags, fuse_ino_t *stale)
{
	struct fs_node *p1 = node_of(fs, parent), *p2 = node_of(fs, newparent), *src;
	char path1[PATHLEN], path2[PATHLEN];
	enum fs_kind k1, k2;
	struct stat st;
	int e;

	if (p1 == NULL || p2 == NULL)
		return ENOENT;
	if (p1->kind == FS_METADIR || p2->kind == FS_METADIR)
		return EROFS;
	if (p1->kind == FS_ROOT)
		return strcmp(name, ".blazefs") ? EXDEV : EPERM; /* collections: see top */
	if (p2->kind == FS_ROOT) {
		fs_log("%s: only collections (directories) can be made at the root", newname);
		return EPERM;
	}
	if (flags & ~RENAME_NOREPLACE)
		return EINVAL;
	if ((e = kind_in(p1, name, &k1)) || (e = kind_in(p2, newname, &k2)))
		return e;
	if (flags & RENAME_NOREPLACE) {
		if (k2 == FS_RECORD
		        ? record_exists(fs, p2, newname)
		        : (scratch_path(path2, p2->name, newname) == 0 &&
		           fstatat(fs->scratchfd, path2, &st, AT_SYMLINK_NOFOLLOW) == 0))
			return EEXIST;
	}
	if (k1 == FS_RECORD && k2 == FS_RECORD)
		return rename_record(fs, p1, name, p2, newname);
	if (k1 == FS_SCRATCH && k2 == FS_RECORD)
		return rename_scratch_to_record(fs, p1, name, p2, newname, stale);
	if (k1 == FS_RECORD)
		return rename_record_to_scratch(fs, p1, name, p2, newname);
	if ((e = scratch_path(path1, p1->name, name)) ||
	    (e = scratch_path(path2, p2->name, newname)) || (e = scratch_mkdir(fs, p2->name)))
		return e;
	if (renameat(fs->scratchfd, path1, fs->scratchfd, path2))
		return errno;
	if ((src = fs_node_find(&fs->t, p1->ino, name)) != NULL &&
	    fs_node_rename(&fs->t, src, p2->ino, newname))
		return ENOMEM;
	return 0;
}

static void
fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
             const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	fuse_ino_t stale = 0;

	fuse_reply_err(req, do_rename(fs, parent, name, newparent, newname, flags, &stale));
	/* After the reply: the kernel holds locks on the inode until then. */
	/* Attributes only (off -1): dropping pages could wait on a reader
	 * whose READ this very thread has yet to answer. */
	if (stale)
		fuse_lowlevel_notify_inval_inode(fs->se, stale, -1, 0);
}

static int
do_symlink(struct fs *fs, const char *link, fuse_ino_t parent, const char *name,
           struct fuse_entry_param *e)
{
	struct fs_node *p = node_of(fs, parent);
	char path[PATHLEN];
	enum fs_kind kind;
	int r;

	if (p == NULL)
		return ENOENT;
	if ((r = may_create(p, name, &kind)) != 0)
		return r;
	if (kind != FS_SCRATCH) {
		fs_log("%s/%s: a record cannot be a symbolic link", p->name, name);
		return EPERM;
	}
	if ((r = scratch_path(path, p->name, name)) || (r = scratch_mkdir(fs, p->name)))
		return r;
	if (symlinkat(link, fs->scratchfd, path))
		return errno;
	return do_lookup(fs, parent, name, e);
}

static void
fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int r = do_symlink(fs_of(req), link, parent, name, &e);

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_entry(req, &e);
}

/* The target of scratch symlink n, NUL-terminated in buf. */
static int
do_readlink(struct fs *fs, struct fs_node *n, char *buf, size_t size)
{
	char path[PATHLEN];
	ssize_t len;
	int r;

	if (n == NULL)
		return ENOENT;
	if (n->kind != FS_SCRATCH)
		return EINVAL;
	if ((r = scratch_path(path, coll_of(fs, n), n->name)) != 0)
		return r;
	if ((len = readlinkat(fs->scratchfd, path, buf, size - 1)) < 0)
		return errno;
	buf[len] = '\0';
	return 0;
}

static void
fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	char buf[PATH_MAX + 1];
	int r = do_readlink(fs, node_of(fs, ino), buf, sizeof(buf));

	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_readlink(req, buf);
}

static int
do_mknod(struct fs *fs, fuse_ino_t parent, const char *name, mode_t mode,
         struct fuse_entry_param *e)
{
	struct fs_node *p = node_of(fs, parent);
	char path[PATHLEN];
	enum fs_kind kind;
	int r;

	if (p == NULL)
		return ENOENT;
	if ((r = may_create(p, name, &kind)) != 0)
		return r;
	if (kind != FS_SCRATCH || !S_ISREG(mode)) {
		fs_log("%s/%s: only regular files and symbolic links are supported", p->name, name);
		return EPERM;
	}
	if ((r = scratch_path(path, p->name, name)) || (r = scratch_mkdir(fs, p->name)))
		return r;
	if (mknodat(fs->scratchfd, path, mode, 0))
		return errno;
	return do_lookup(fs, parent, name, e);
}

static void
fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct fuse_entry_param e;
	int r = do_mknod(fs_of(req), parent, name, mode, &e);

	(void)rdev;
	if (r)
		fuse_reply_err(req, r);
	else
		fuse_reply_entry(req, &e);
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
fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(fs_of(req)->scratchfd, &sv))
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

/* ---- extended attributes ---- */

static int
record_xattr(struct fs *fs, struct fs_node *n, const char *name, char **val, size_t *len)
{
	char id[NAME_MAX_BYTES + 1];
	struct journal_stat js;

	if (record_file_id(n->name, id))
		return ENODATA;
	if (strcmp(name, XATTR_CONFLICTS) == 0) {
		if ((*val = journal_conflicts_json(fs->j, coll_of(fs, n), id)) == NULL)
			return errno ? errno : EIO;
	} else if (strcmp(name, XATTR_VERSION) == 0) {
		if (journal_stat_record(fs->j, coll_of(fs, n), id, &js))
			return errno == ENOENT ? ENODATA : errno;
		if (asprintf(val, "%" PRIu64, js.version) < 0) {
			*val = NULL; /* asprintf leaves it undefined */
			return ENOMEM;
		}
	} else {
		return ENODATA;
	}
	*len = strlen(*val);
	return 0;
}

/* What a getxattr or listxattr of size bytes may see of a value of len. */
static int
xattr_fits(size_t len, size_t size)
{
	return size == 0 || size >= len ? 0 : ERANGE;
}

static int
scratch_abspath(struct fs *fs, struct fs_node *n, char *out, size_t size)
{
	int r = snprintf(out, size, "%s/scratch/%s/%s", fs->db, coll_of(fs, n), n->name);

	return r < 0 || (size_t)r >= size ? ENAMETOOLONG : 0;
}

/* Sets *val (malloc'd) to the value of attribute name of n, *len its size. */
static int
do_getxattr(struct fs *fs, struct fs_node *n, const char *name, size_t size, char **val,
            size_t *len)
{
	char path[PATH_MAX];
	ssize_t got;
	int r;

	*val = NULL;
	*len = 0;
	if (n && n->kind == FS_SCRATCH) {
		if ((r = scratch_abspath(fs, n, path, sizeof(path))) != 0)
			return r;
		if ((got = lgetxattr(path, name, NULL, 0)) < 0 ||
		    (*val = malloc(got + 1)) == NULL ||
		    (got = lgetxattr(path, name, *val, got)) < 0)
			return errno;
		*len = got;
	} else if (n && n->kind == FS_RECORD) {
		if ((r = record_xattr(fs, n, name, val, len)) != 0)
			return r;
	} else {
		return ENODATA;
	}
	return xattr_fits(*len, size);
}

static void
fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = fs_of(req);
	char *val;
	size_t len;
	int r = do_getxattr(fs, node_of(fs, ino), name, size, &val, &len);

	if (r)
		fuse_reply_err(req, r);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, val, len);
	free(val);
}

/* Sets *val (malloc'd, or NULL if empty) to the attribute names of n. */
static int
do_listxattr(struct fs *fs, struct fs_node *n, size_t size, char **val, size_t *len)
{
	static const char names[] = XATTR_CONFLICTS "\0" XATTR_VERSION;
	char path[PATH_MAX];
	ssize_t got;
	int r;

	*val = NULL;
	*len = 0;
	if (n && n->kind == FS_RECORD) {
		if ((*val = malloc(sizeof(names))) == NULL)
			return ENOMEM;
		memcpy(*val, names, sizeof(names));
		*len = sizeof(names);
	} else if (n && n->kind == FS_SCRATCH) {
		if ((r = scratch_abspath(fs, n, path, sizeof(path))) != 0)
			return r;
		if ((got = llistxattr(path, NULL, 0)) < 0)
			return errno;
		if ((*val = malloc(got + 1)) == NULL)
			return ENOMEM;
		if ((got = llistxattr(path, *val, got)) < 0)
			return errno;
		*len = got;
	}
	return xattr_fits(*len, size);
}

static void
fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fs_of(req);
	char *val;
	size_t len;
	int r = do_listxattr(fs, node_of(fs, ino), size, &val, &len);

	if (r)
		fuse_reply_err(req, r);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, val, len);
	free(val);
}

static void
fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
               int flags)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = node_of(fs, ino);
	char path[PATH_MAX];
	int r = ENOTSUP;

	if (n && n->kind == FS_SCRATCH && (r = scratch_abspath(fs, n, path, sizeof(path))) == 0)
		r = lsetxattr(path, name, value, size, flags) ? errno : 0;
	fuse_reply_err(req, r);
}

static void
fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = node_of(fs, ino);
	char path[PATH_MAX];
	int r = ENOTSUP;

	if (n && n->kind == FS_SCRATCH && (r = scratch_abspath(fs, n, path, sizeof(path))) == 0)
		r = lremovexattr(path, name) ? errno : 0;
	fuse_reply_err(req, r);
}

/* ---- session ---- */

static void
fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC arrives with open, not as a separate truncate to empty. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
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
    .releasedir = fs_op_releasedir,
    .statfs = fs_op_statfs,
    .setxattr = fs_op_setxattr,
    .getxattr = fs_op_getxattr,
    .listxattr = fs_op_listxattr,
    .removexattr = fs_op_removexattr,
    .create = fs_op_create,
};

/* A remote change touched coll/rec: drop what the kernel caches of it. */
static void
fs_observe(void *ctx, const char *coll, const char *rec)
{
	struct fs *fs = ctx;
	char fname[NAME_MAX_BYTES + 8];
	fuse_ino_t cino, rino;

	cino = fs_node_stale(&fs->t, FUSE_ROOT_ID, coll);
	if (cino == 0 || rec[0] == '\0') {
		fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, coll, strlen(coll));
		return;
	}
	snprintf(fname, sizeof(fname), "%s.json", rec);
	if ((rino = fs_node_stale(&fs->t, cino, fname)) != 0)
		fuse_lowlevel_notify_inval_inode(fs->se, rino, 0, 0);
	fuse_lowlevel_notify_inval_entry(fs->se, cino, fname, strlen(fname));
}

struct fs *
fs_new(const char *db)
{
	struct fs *fs;

	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return NULL;
	fs->scratchfd = -1;
	fs->opens.next = fs->opens.prev = &fs->opens;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->started = time(NULL);
	if ((fs->db = strdup(db)) == NULL || fs_node_init(&fs->t)) {
		free(fs->db);
		free(fs);
		return NULL;
	}
	return fs;
}

void
fs_set_status_source(struct fs *fs, fs_status_fn *fn, void *ctx)
{
	fs->status = fn;
	fs->status_ctx = ctx;
}

int
fs_attach(struct fs *fs, struct journal *j, struct fuse_session *se)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/scratch", fs->db) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return -1;
	if ((fs->scratchfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	fs->j = j;
	fs->se = se;
	journal_set_observer(j, fs_observe, fs);
	return 0;
}

void
fs_free(struct fs *fs)
{
	if (fs == NULL)
		return;
	/* Files still open at unmount: their last close never returned. */
	while (fs->opens.next != &fs->opens) {
		struct fs_open *o = fs->opens.next;

		if (o->is_dir)
			dir_free((struct fs_dir *)o);
		else
			handle_free((struct fs_handle *)o);
	}
	if (fs->scratchfd >= 0)
		close(fs->scratchfd);
	fs_node_fini(&fs->t);
	free(fs->db);
	free(fs);
}
