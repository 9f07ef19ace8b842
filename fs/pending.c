/*
 * pending: deletes of records held back for a grace period (FS_GRACE_MS), so
 * that a delete followed by a re-create of the same record from this device
 * (mv across file systems, cp --remove-destination, rsync, editors that
 * delete then write) is one edit: the re-create is written as an edit of the
 * record as it was before the delete, so only the fields that differ are
 * written, against the entries this device saw.
 *
 * During the grace the record is hidden from lookups and listings, as if
 * deleted; its entries stay in the journal.  A delete not followed by a
 * re-create is journalled when its grace ends (fs_pending_run, from the
 * request loop), and at unmount.  The set of held deletes is kept in the
 * journal's local metadata (key FS_PENDING_META), a write logged in the wal
 * like any other: after a kill -9 the next mount journals them at once
 * (fs_pending_recover), so a delete whose unlink() returned is never lost
 * (D1).  Nothing of it leaves the device before it is journalled (D4).
 *
 * A change from another device to the record during the grace wins over the
 * held delete where it differs: the delete removes only the fields that still
 * hold what they held at the delete (modification beats deletion, DESIGN §2).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/hlc.h"
#include "core/journal.h"
#include "core/record.h"
#include "fs/fs_int.h"

#define FS_PENDING_META "fs_pending_deletes"

struct fs_pending {
	struct fs_pending *next;
	char coll[NAME_MAX_BYTES + 1], id[NAME_MAX_BYTES + 1];
	char *base; /* the record's bytes at the delete */
	size_t baselen;
	uint64_t version; /* its version then */
	int64_t due_ms;   /* monotonic */
};

static int64_t
pending_now_ms(void)
{
	return (int64_t)hlc_mono_ms();
}

/* Writes the set of held deletes (coll NUL id NUL ...) to the journal's
 * metadata; logs a failure (the deletes still run, at their grace's end). */
static void
pending_save(struct fs *fs)
{
	size_t len = 0, cl, il;
	char *buf, *p;

	for (struct fs_pending *q = fs->pending; q; q = q->next)
		len += strlen(q->coll) + strlen(q->id) + 2;
	if ((buf = malloc(len ? len : 1)) == NULL) {
		fs_log("cannot record the deletes held back: %s", strerror(ENOMEM));
		return;
	}
	p = buf;
	for (struct fs_pending *q = fs->pending; q; q = q->next) {
		cl = strlen(q->coll) + 1;
		il = strlen(q->id) + 1;
		memcpy(p, q->coll, cl);
		memcpy(p + cl, q->id, il);
		p += cl + il;
	}
	if (journal_meta_put(fs->j, FS_PENDING_META, buf, len))
		fs_log("cannot record the deletes held back: %s", strerror(errno));
	free(buf);
}

static struct fs_pending **
pending_where(struct fs *fs, const char *coll, const char *id)
{
	struct fs_pending **q;

	for (q = &fs->pending; *q; q = &(*q)->next)
		if (strcmp((*q)->coll, coll) == 0 && strcmp((*q)->id, id) == 0)
			break;
	return q;
}

int
fs_pending_is(struct fs *fs, const char *coll, const char *id)
{
	return *pending_where(fs, coll, id) != NULL;
}

int
fs_pending_add(struct fs *fs, const char *coll, const char *id)
{
	struct journal_stat js;
	struct fs_pending *q;

	if (fs_pending_is(fs, coll, id))
		return ENOENT; /* already deleted, as far as anyone here can see */
	if (journal_stat_record(fs->j, coll, id, &js))
		return errno;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return ENOMEM;
	if (journal_read_record(fs->j, coll, id, &q->base, &q->baselen)) {
		int e = errno;

		free(q);
		return e;
	}
	snprintf(q->coll, sizeof(q->coll), "%s", coll);
	snprintf(q->id, sizeof(q->id), "%s", id);
	q->version = js.version;
	q->due_ms = pending_now_ms() + FS_GRACE_MS;
	q->next = fs->pending;
	fs->pending = q;
	pending_save(fs);
	return 0;
}

int
fs_pending_take(struct fs *fs, const char *coll, const char *id, char **base, size_t *len)
{
	struct fs_pending **w = pending_where(fs, coll, id), *q = *w;

	if (q == NULL)
		return 0;
	*w = q->next;
	pending_save(fs);
	if (base != NULL) {
		*base = q->base;
		*len = q->baselen;
	} else {
		free(q->base);
	}
	free(q);
	return 1;
}

/*
 * The held delete of q, journalled: the whole record, unless a change from
 * elsewhere arrived since; then only the fields that still hold what they
 * held at the delete go (the record stays with the others).
 */
static void
pending_apply(struct fs *fs, struct fs_pending *q)
{
	struct journal_stat js;
	json_t *was = NULL, *now = NULL, *v;
	const char *k, *why;
	char *buf = NULL, *out = NULL;
	size_t len;
	void *tmp;

	if (journal_stat_record(fs->j, q->coll, q->id, &js))
		return; /* gone already (deleted elsewhere too) */
	if (js.version != q->version &&
	    journal_read_record(fs->j, q->coll, q->id, &buf, &len) == 0 &&
	    (was = json_loadb(q->base, q->baselen, 0, NULL)) != NULL &&
	    (now = json_loadb(buf, len, 0, NULL)) != NULL && json_is_object(now)) {
		json_object_foreach_safe(now, tmp, k, v)
		{
			if (json_equal(v, json_object_get(was, k)))
				json_object_del(now, k);
		}
		if (json_object_size(now) > 0 &&
		    (out = json_dumps(now, JSON_COMPACT | JSON_SORT_KEYS)) != NULL) {
			struct journal_stat st;

			if (journal_save_record(fs->j, q->coll, q->id, buf, len, out, strlen(out),
			                        &why, &st))
				fs_log("%s/%s.json: delete failed: %s", q->coll, q->id,
				       strerror(errno));
			goto out;
		}
	}
	if (journal_delete_record(fs->j, q->coll, q->id) && errno != ENOENT)
		fs_log("%s/%s.json: delete failed: %s", q->coll, q->id, strerror(errno));
out:
	free(out);
	free(buf);
	json_decref(was);
	json_decref(now);
}

int
fs_pending_run(struct fs *fs, int all, const char *coll)
{
	int64_t now = pending_now_ms(), next = -1;
	struct fs_pending **w = &fs->pending, *q;
	int ran = 0;

	while ((q = *w) != NULL) {
		if ((all && (coll == NULL || strcmp(q->coll, coll) == 0)) || q->due_ms <= now) {
			*w = q->next;
			pending_apply(fs, q);
			free(q->base);
			free(q);
			ran = 1;
			continue;
		}
		if (next < 0 || q->due_ms - now < next)
			next = q->due_ms - now;
		w = &q->next;
	}
	if (ran)
		pending_save(fs);
	return (int)next;
}

void
fs_pending_recover(struct fs *fs)
{
	char *buf, *p, *end;
	size_t len;
	void *v;

	if (journal_meta_get(fs->j, FS_PENDING_META, &v, &len))
		return;
	buf = v;
	/* Deletes whose unlink() returned before a crash: journalled now. */
	for (p = buf, end = buf + len; p < end;) {
		char *coll = p, *id = memchr(p, '\0', (size_t)(end - p));
		char *next;

		if (id == NULL || ++id >= end ||
		    (next = memchr(id, '\0', (size_t)(end - id))) == NULL)
			break;
		if (journal_delete_record(fs->j, coll, id) && errno != ENOENT)
			fs_log("%s/%s.json: delete held at a crash failed: %s", coll, id,
			       strerror(errno));
		p = next + 1;
	}
	if (len > 0 && journal_meta_put(fs->j, FS_PENDING_META, "", 0))
		fs_log("cannot clear the deletes held back: %s", strerror(errno));
	free(buf);
}

void
fs_pending_free(struct fs *fs)
{
	struct fs_pending *q;

	while ((q = fs->pending) != NULL) {
		fs->pending = q->next;
		free(q->base);
		free(q);
	}
}
