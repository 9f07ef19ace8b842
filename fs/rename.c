/*
 * rename: moves a record or scratch file, within or across collections; a
 * node renamed across kinds keeps its inode.
 *
 * Documented choices:
 * - Renaming a collection fails with EXDEV: mv then copies and deletes, which
 *   works record by record.
 * - Renaming a scratch file over a record writes the record; invalid content
 *   is stored as a rejected write and the rename fails with EINVAL, leaving
 *   the scratch file in place.  Renaming a record to a scratch name copies
 *   its bytes into the scratch file and deletes the record (EBUSY while the
 *   record is open).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/journal.h"
#include "core/record.h"
#include "fs/fs_int.h"

/* A node renamed across kinds (scratch <-> record) keeps its inode. */
static int
rename_node(struct fs *fs, struct fs_node *n, enum fs_kind kind, fuse_ino_t parent,
            const char *name)
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
	char id[NAME_MAX_BYTES + 1], *buf = NULL, *base = NULL;
	struct fs_node *src = fs_node_find(&fs->t, p1->ino, n1);
	struct fs_node *dst = fs_node_find(&fs->t, p2->ino, n2);
	size_t len = 0, baselen = 0;
	int e;

	if ((e = fs_scratch_load(fs, p1->name, n1, &buf, &len)) != 0)
		return e;
	record_file_id(n2, id);
	/* Over a record (or one deleted within the grace: pending.c), the new
	 * bytes are an edit of what was there: only the fields that differ are
	 * written (sed -i, rsync, jq > t && mv t, editors' write-and-rename). */
	if (!fs_pending_take(fs, p2->name, id, &base, &baselen) &&
	    journal_read_record(fs->j, p2->name, id, &base, &baselen))
		base = NULL;
	e = fs_edit_put(fs, p2->name, n2, id, base, baselen, buf, len, NULL);
	free(base);
	free(buf);
	if (e == EINVAL || e == EFBIG)
		*stale = fs_node_stale(&fs->t, p2->ino, n2);
	if (e)
		return e;
	if ((e = fs_scratch_unlink(fs, p1->name, n1)) != 0)
		fs_log("%s/%s: cannot remove after rename: %s", p1->name, n1, strerror(e));
	if (dst && dst != src)
		dst->unlinked = 1;
	return src ? rename_node(fs, src, FS_RECORD, p2->ino, n2) : 0;
}

/* Record becomes a scratch file: its bytes are copied, the record deleted. */
static int
rename_record_to_scratch(struct fs *fs, struct fs_node *p1, const char *n1, struct fs_node *p2,
                         const char *n2)
{
	char id[NAME_MAX_BYTES + 1], *buf;
	struct fs_node *src = fs_node_find(&fs->t, p1->ino, n1);
	size_t len;
	int e, had_reject;

	record_file_id(n1, id);
	if (fs_pending_is(fs, p1->name, id))
		return ENOENT;
	if (src && src->nopen > 0)
		return EBUSY;
	if ((e = fs_edit_load(fs, p1->name, id, &buf, &len)) != 0)
		return e;
	e = fs_scratch_store(fs, p2->name, n2, buf, len);
	free(buf);
	if (e)
		return e;
	/* Deleting the record drops its rejected bytes; either must exist.  A
	 * stored record's delete is held back (vim's backup rename, then a new
	 * file of the same name: one edit, pending.c). */
	e = fs_edit_rejected(fs, p1->name, id) ? ENOENT : fs_pending_add(fs, p1->name, id);
	had_reject = journal_reject_del(fs->j, p1->name, id) == 0;
	if (e != 0 && journal_delete_record(fs->j, p1->name, id) &&
	    (errno != ENOENT || !had_reject)) {
		e = errno;
		fs_scratch_unlink(fs, p2->name, n2);
		return e;
	}
	return src ? rename_node(fs, src, FS_SCRATCH, p2->ino, n2) : 0;
}

static int
rename_record(struct fs *fs, struct fs_node *p1, const char *n1, struct fs_node *p2, const char *n2)
{
	char id1[NAME_MAX_BYTES + 1], id2[NAME_MAX_BYTES + 1];
	struct fs_node *src = fs_node_find(&fs->t, p1->ino, n1);
	struct fs_node *dst = fs_node_find(&fs->t, p2->ino, n2);
	int e;

	record_file_id(n1, id1);
	record_file_id(n2, id2);
	if (fs_pending_is(fs, p1->name, id1))
		return ENOENT;
	if (src && src->nopen > 0 && (e = fs_edit_commit(fs, src)) != 0)
		return e;
	fs_pending_take(fs, p2->name, id2, NULL, NULL); /* replaced whole */
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
rename_scratch(struct fs *fs, struct fs_node *p1, const char *n1, struct fs_node *p2,
               const char *n2)
{
	struct fs_node *src;
	int e;

	if ((e = fs_scratch_rename(fs, p1->name, n1, p2->name, n2)) != 0)
		return e;
	if ((src = fs_node_find(&fs->t, p1->ino, n1)) != NULL &&
	    fs_node_rename(&fs->t, src, p2->ino, n2))
		return ENOMEM;
	return 0;
}

int
fs_rename(struct fs *fs, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
          const char *newname, unsigned int flags, fuse_ino_t *stale)
{
	struct fs_node *p1 = fs_node_get(&fs->t, parent), *p2 = fs_node_get(&fs->t, newparent);
	enum fs_kind k1, k2;
	int e;

	*stale = 0;
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
	if ((e = fs_dir_kind(p1, name, &k1)) || (e = fs_dir_new_name(p2, newname)) ||
	    (e = fs_dir_kind(p2, newname, &k2)))
		return e;
	if ((flags & RENAME_NOREPLACE) &&
	    (k2 == FS_RECORD ? fs_edit_exists(fs, p2, newname)
	                     : fs_scratch_exists(fs, p2->name, newname)))
		return EEXIST;
	if (k1 == FS_RECORD && k2 == FS_RECORD)
		e = rename_record(fs, p1, name, p2, newname);
	else if (k1 == FS_SCRATCH && k2 == FS_RECORD)
		e = rename_scratch_to_record(fs, p1, name, p2, newname, stale);
	else if (k1 == FS_RECORD)
		e = rename_record_to_scratch(fs, p1, name, p2, newname);
	else
		e = rename_scratch(fs, p1, name, p2, newname);
	if (e == 0) {
		fs_node_touch(&fs->t, p1->ino);
		fs_node_touch(&fs->t, p2->ino);
	}
	return e;
}
