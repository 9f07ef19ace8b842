/*
 * dir: directories and names.  The root lists the collections and the
 * read-only .blazefs/; a collection lists its records as <id>.json and then
 * its scratch files.  A listing (struct fs_dir, in fi->fh) remembers the
 * position after each entry of its last reply, so the kernel may resume
 * anywhere in it while records come and go.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/journal.h"
#include "core/record.h"
#include "fs/fs_int.h"

#define UNKNOWN_INO 0xffffffffu

/* A position in a directory listing. */
struct dpos {
	int phase;
	size_t i;
	char cursor[NAME_MAX_BYTES + 1];
};

enum { PH_DOT, PH_DOTDOT, PH_META, PH_LIST, PH_REJECTS, PH_SCRATCH, PH_END };

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

int
fs_dir_kind(const struct fs_node *p, const char *name, enum fs_kind *kind)
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

int
fs_dir_lookup(struct fs *fs, fuse_ino_t parent, const char *name, struct fuse_entry_param *e)
{
	struct fs_node *p = fs_node_get(&fs->t, parent), *n, tmp = {.parent = parent};
	enum fs_kind kind;
	int r;

	if (p == NULL)
		return ENOENT;
	if ((r = fs_dir_kind(p, name, &kind)) != 0)
		return r == ENAMETOOLONG ? r : ENOENT;
	if (kind == FS_METAFILE && !fs_meta_is_name(name))
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
	if ((r = fs_getattr(fs, n, &e->attr)) != 0)
		return r;
	if ((n = fs_node_lookup(&fs->t, parent, name, kind)) == NULL)
		return ENOMEM;
	e->ino = n->ino;
	e->attr.st_ino = n->ino;
	e->attr_timeout = FS_TIMEOUT;
	e->entry_timeout = FS_TIMEOUT;
	return 0;
}

int
fs_dir_mkdir(struct fs *fs, fuse_ino_t parent, const char *name, struct fuse_entry_param *e)
{
	struct fs_node *p = fs_node_get(&fs->t, parent);

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
	fs_node_touch(&fs->t, parent);
	return fs_dir_lookup(fs, parent, name, e);
}

int
fs_dir_rmdir(struct fs *fs, fuse_ino_t parent, const char *name)
{
	struct fs_node *p = fs_node_get(&fs->t, parent), *n;
	int r;

	if (p == NULL)
		return ENOENT;
	if (p->kind == FS_COLL)
		return ENOTDIR;
	if (p->kind != FS_ROOT || strcmp(name, ".blazefs") == 0)
		return EPERM;
	if (record_name_valid(name, strlen(name)))
		return ENOENT;
	fs_pending_run(fs, 1, name); /* its records deleted: gone now */
	if ((r = fs_scratch_empty(fs, name)) < 0)
		return errno;
	if (r == 0)
		return ENOTEMPTY;
	if (journal_rmcol(fs->j, name))
		return errno;
	fs_scratch_rmdir(fs, name);
	if ((n = fs_node_find(&fs->t, parent, name)) != NULL)
		fs_node_unname(&fs->t, n);
	fs_node_touch(&fs->t, parent);
	return 0;
}

void
fs_dir_free(struct fs_dir *d)
{
	if (d == NULL)
		return;
	if (d->link.next)
		fs_open_unlink(&d->link);
	for (size_t i = 0; i < d->nscratch; i++)
		free(d->scratch[i]);
	free(d->scratch);
	free(d->marks);
	free(d);
}

int
fs_dir_open(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_node *n = fs_node_get(&fs->t, ino);
	struct fs_dir *d;
	int r = 0;

	if (n == NULL)
		return ENOENT;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return ENOMEM;
	fs_open_link(fs, &d->link, 1);
	if (n->kind == FS_COLL &&
	    (r = fs_scratch_list(fs, n->name, &d->scratch, &d->nscratch)) != 0) {
		fs_dir_free(d);
		return r;
	}
	fi->fh = (uintptr_t)d;
	return 0;
}

/* One readdir reply being filled. */
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
	int plus; /* READDIRPLUS: each entry with its attributes, looked up */
};

/* Remembers f->pos as where the entry at the next offset resumes. */
static int
dir_mark(struct dirfill *f)
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

/*
 * Adds one entry; records the position after it.  -1 when the reply is full.
 * With plus, the entry carries its attributes and counts as a lookup (as
 * passthrough_ll does), so `ls -l`, `find -ls` and file managers pay no
 * LOOKUP per entry; one that does not fit is forgotten again.  An entry that
 * cannot be looked up (gone meanwhile) goes without attributes (ino 0).
 */
static int
dir_emit(struct dirfill *f, const char *name, mode_t type)
{
	struct fs_node *n = fs_node_find(&f->fs->t, f->dir->ino, name);
	struct fuse_entry_param e;
	size_t need, room = f->size - f->used;

	memset(&e, 0, sizeof(e));
	e.attr.st_ino = n ? n->ino : UNKNOWN_INO;
	e.attr.st_mode = type;
	if (!f->plus) {
		need = fuse_add_direntry(f->req, f->buf + f->used, room, name, &e.attr, f->off + 1);
	} else {
		if ((strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		     fs_dir_lookup(f->fs, f->dir->ino, name, &e) != 0)) {
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = n ? n->ino : UNKNOWN_INO;
			e.attr.st_mode = type;
		}
		need = fuse_add_direntry_plus(f->req, f->buf + f->used, room, name, &e, f->off + 1);
	}
	if (need > room || dir_mark(f)) {
		if (e.ino != 0)
			fs_node_forget(&f->fs->t, e.ino, 1);
		if (need > room)
			f->full = 1;
		return -1;
	}
	f->used += need;
	f->off++;
	return 0;
}

static int
dir_list_cb(void *ctx, const char *name)
{
	struct dirfill *f = ctx;
	char fname[NAME_MAX_BYTES + 8];
	struct dpos save = f->pos;

	snprintf(f->pos.cursor, sizeof(f->pos.cursor), "%s", name);
	/* Internal collections (.devices) are the journal's, not the user's: a
	 * name the root cannot look up must not be listed (ls -la, rsync, tar). */
	if (f->dir->kind == FS_ROOT && record_name_valid(name, strlen(name)))
		return 0;
	if (f->dir->kind == FS_COLL && fs_pending_is(f->fs, f->dir->name, name))
		return 0; /* deleted, its delete held back */
	if (f->dir->kind == FS_COLL)
		snprintf(fname, sizeof(fname), "%s.json", name);
	else
		snprintf(fname, sizeof(fname), "%s", name);
	if (dir_emit(f, fname, f->dir->kind == FS_COLL ? S_IFREG : S_IFDIR)) {
		f->pos = save;
		return 1;
	}
	return 0;
}

/* A record that exists only as a rejected write (a touch of a new name, a
 * first write that was invalid) reads by name, so it is listed too. */
static int
dir_reject_cb(void *ctx, const char *name)
{
	struct dirfill *f = ctx;
	struct journal_stat js;

	if (journal_stat_record(f->fs->j, f->dir->name, name, &js) == 0)
		return 0; /* listed with the records */
	return dir_list_cb(ctx, name);
}

static int
dir_dtype_mode(unsigned char t)
{
	return t == DT_LNK ? S_IFLNK : t == DT_DIR ? S_IFDIR : S_IFREG;
}

/* Emits entries from f->pos until the reply is full or the listing ends. */
static void
dir_fill(struct dirfill *f)
{
	struct dpos *p = &f->pos;
	const char *name;
	int r;

	while (!f->full && !f->err && p->phase != PH_END) {
		switch (p->phase) {
		case PH_DOT:
			p->phase = PH_DOTDOT;
			if (dir_emit(f, ".", S_IFDIR))
				p->phase = PH_DOT;
			break;
		case PH_DOTDOT:
			p->phase = f->dir->kind == FS_COLL ? PH_LIST : PH_META;
			if (dir_emit(f, "..", S_IFDIR))
				p->phase = PH_DOTDOT;
			break;
		case PH_META:
			/* The root lists .blazefs; .blazefs lists its files. */
			if (f->dir->kind == FS_ROOT) {
				p->phase = PH_LIST;
				if (dir_emit(f, ".blazefs", S_IFDIR))
					p->phase = PH_META;
			} else if ((name = fs_meta_name(p->i)) != NULL) {
				p->i++;
				if (dir_emit(f, name, S_IFREG))
					p->i--;
			} else {
				p->phase = PH_END;
			}
			break;
		case PH_LIST:
			if (f->dir->kind == FS_ROOT)
				r = journal_list_cols(f->fs->j, p->cursor, dir_list_cb, f);
			else
				r = journal_list_records(f->fs->j, f->dir->name, p->cursor,
				                         dir_list_cb, f);
			if (r < 0) {
				f->err = errno;
			} else if (!f->full && !f->err) {
				p->phase = f->dir->kind == FS_COLL ? PH_REJECTS : PH_END;
				p->cursor[0] = '\0';
				p->i = 0;
			}
			break;
		case PH_REJECTS:
			r = journal_list_rejects(f->fs->j, f->dir->name, p->cursor, dir_reject_cb,
			                         f);
			if (r < 0) {
				f->err = errno;
			} else if (!f->full && !f->err) {
				p->phase = PH_SCRATCH;
				p->i = 0;
			}
			break;
		case PH_SCRATCH:
			if (p->i < f->d->nscratch) {
				const char *s = f->d->scratch[p->i++];

				if (dir_emit(f, s + 1, dir_dtype_mode((unsigned char)s[0])))
					p->i--;
			} else {
				p->phase = PH_END;
			}
			break;
		}
	}
}

int
fs_dir_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, size_t size,
            off_t off, int plus, char **buf, size_t *used)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	struct dirfill f = {.req = req, .fs = fs, .d = d, .size = size, .off = off, .plus = plus};

	if ((f.dir = fs_node_get(&fs->t, ino)) == NULL)
		return ENOENT;
	if (off == 0)
		f.pos.phase = PH_DOT;
	else if (d->nmarks && off >= d->base && (size_t)(off - d->base) < d->nmarks)
		f.pos = d->marks[off - d->base];
	else
		return EINVAL; /* only positions of the last reply */
	d->nmarks = 0;
	d->base = off;
	if ((f.buf = malloc(size)) == NULL || dir_mark(&f)) {
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

void
fs_dir_release(struct fuse_file_info *fi)
{
	fs_dir_free((struct fs_dir *)(uintptr_t)fi->fh);
}

/*
 * What a careful save (write a temporary, fsync it, rename it over the
 * record, fsync the directory) relies on: the rename wrote the record into
 * the journal's batch.
 */
int
fs_dir_fsync(struct fs *fs, fuse_ino_t ino)
{
	struct fs_node *n = fs_node_get(&fs->t, ino);

	fs_pending_run(fs, 1, NULL); /* an fsync makes a held delete final (D2) */
	if (journal_sync(fs->j))
		return errno;
	if (n != NULL && n->kind == FS_COLL)
		return fs_scratch_syncdir(fs, n->name);
	return 0;
}

int
fs_dir_unlink(struct fs *fs, fuse_ino_t parent, const char *name)
{
	struct fs_node *p = fs_node_get(&fs->t, parent), *n = fs_node_find(&fs->t, parent, name);
	char id[NAME_MAX_BYTES + 1];
	int r, had_reject, open = n && n->kind == FS_RECORD && n->nopen > 0 && !n->unlinked;

	if (p == NULL)
		return ENOENT;
	if (p->kind == FS_METADIR)
		return EROFS;
	if (p->kind != FS_COLL)
		return EISDIR;
	if (record_file_id(name, id) == 0) {
		/* A stored record's delete is held back (pending.c); one with
		 * rejected bytes, or none, goes at once as before. */
		if (fs_pending_is(fs, p->name, id))
			return ENOENT; /* deleted already */
		r = fs_edit_rejected(fs, p->name, id) ? ENOENT : fs_pending_add(fs, p->name, id);
		had_reject = journal_reject_del(fs->j, p->name, id) == 0;
		if (r != 0) {
			if (journal_delete_record(fs->j, p->name, id) &&
			    (errno != ENOENT || (!had_reject && !open)))
				return errno;
		}
		if (n)
			n->unlinked = 1;
	} else if ((r = fs_scratch_unlink(fs, p->name, name)) != 0) {
		return r;
	}
	if (n)
		fs_node_unname(&fs->t, n);
	fs_node_touch(&fs->t, parent);
	return 0;
}

/* The first bytes of name for a log line, printable ASCII kept and every
 * other byte as \xNN (a name that is not UTF-8 must not reach the log raw). */
static void
dir_log_name(char *out, size_t size, const char *name)
{
	size_t o = 0;

	for (const unsigned char *s = (const unsigned char *)name; *s && o + 5 < size; s++) {
		if (*s >= 0x20 && *s < 0x7f)
			out[o++] = (char)*s;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", *s);
	}
	out[o] = '\0';
}

int
fs_dir_new_name(const struct fs_node *p, const char *name)
{
	char shown[48];
	size_t n = strlen(name);
	int e;

	/* A leading dot is a scratch name (emacs' .#x.json lock, hidden files). */
	if (p->kind != FS_COLL || n <= 5 || strcmp(name + n - 5, ".json") != 0 || name[0] == '.')
		return 0;
	if (record_name_valid(name, n - 5) == 0)
		return 0;
	/* Neither a record nor a silent local-only scratch file: say why. */
	e = errno == ENAMETOOLONG ? ENAMETOOLONG : EILSEQ;
	dir_log_name(shown, sizeof(shown), name);
	fs_log("%s/%s%s: cannot be a record: %s", p->name, shown, n > 40 ? "..." : "",
	       e == ENAMETOOLONG ? "its id is over 200 bytes" : "its name is not valid UTF-8");
	return e;
}

int
fs_dir_may_create(struct fs_node *p, const char *name, enum fs_kind *kind)
{
	int e;

	if (p->kind == FS_METADIR)
		return EROFS;
	if (p->kind == FS_ROOT) {
		fs_log("%s: only collections (directories) can be made at the root", name);
		return EPERM;
	}
	if (p->kind != FS_COLL)
		return ENOTDIR;
	if ((e = fs_dir_new_name(p, name)) != 0)
		return e;
	return fs_dir_kind(p, name, kind);
}

int
fs_dir_symlink(struct fs *fs, const char *link, fuse_ino_t parent, const char *name,
               struct fuse_entry_param *e)
{
	struct fs_node *p = fs_node_get(&fs->t, parent);
	enum fs_kind kind;
	int r;

	if (p == NULL)
		return ENOENT;
	if ((r = fs_dir_may_create(p, name, &kind)) != 0)
		return r;
	if (kind != FS_SCRATCH) {
		fs_log("%s/%s: a record cannot be a symbolic link", p->name, name);
		return EPERM;
	}
	if ((r = fs_scratch_symlink(fs, link, p->name, name)) != 0)
		return r;
	fs_node_touch(&fs->t, parent);
	return fs_dir_lookup(fs, parent, name, e);
}

int
fs_dir_mknod(struct fs *fs, fuse_ino_t parent, const char *name, mode_t mode,
             struct fuse_entry_param *e)
{
	struct fs_node *p = fs_node_get(&fs->t, parent);
	enum fs_kind kind;
	int r;

	if (p == NULL)
		return ENOENT;
	if ((r = fs_dir_may_create(p, name, &kind)) != 0)
		return r;
	if (kind != FS_SCRATCH || !S_ISREG(mode)) {
		fs_log("%s/%s: only regular files and symbolic links are supported", p->name, name);
		return EPERM;
	}
	if ((r = fs_scratch_mknod(fs, p->name, name, mode)) != 0)
		return r;
	fs_node_touch(&fs->t, parent);
	return fs_dir_lookup(fs, parent, name, e);
}
