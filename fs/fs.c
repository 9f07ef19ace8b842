/*
 * fs: the state of a mount (struct fs, fs/fs_int.h) and its lifecycle; the
 * list of open files and directories, which shutdown frees when the kernel
 * never released them; the journal observer, which tells the kernel what a
 * remote change made stale; and the attributes of a node of any kind.  The
 * ops themselves are in ops.c, the work by concern in the other files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/journal.h"
#include "core/record.h"
#include "fs/fs_int.h"

void
fs_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(LOG_NOTICE, fmt, ap);
	va_end(ap);
}

void
fs_open_link(struct fs *fs, struct fs_open *o, int is_dir)
{
	o->is_dir = is_dir;
	o->next = fs->opens.next;
	o->prev = &fs->opens;
	o->next->prev = o;
	fs->opens.next = o;
}

void
fs_open_unlink(struct fs_open *o)
{
	o->prev->next = o->next;
	o->next->prev = o->prev;
}

const char *
fs_coll_of(struct fs *fs, const struct fs_node *n)
{
	struct fs_node *p = fs_node_get(&fs->t, n->parent);

	return p ? p->name : "";
}

void
fs_set_times(struct stat *st, time_t sec, long nsec)
{
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = sec;
	st->st_atim.tv_nsec = st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = nsec;
}

int
fs_getattr(struct fs *fs, struct fs_node *n, struct stat *st)
{
	char *text;
	size_t len;
	int e;

	memset(st, 0, sizeof(*st));
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	fs_set_times(st, fs->started, 0);
	switch (n->kind) {
	case FS_ROOT:
	case FS_COLL:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		/* Entries added or removed since the mount move its times. */
		pthread_mutex_lock(&fs->t.lock);
		if (n->dtime.tv_sec != 0)
			fs_set_times(st, n->dtime.tv_sec, n->dtime.tv_nsec);
		pthread_mutex_unlock(&fs->t.lock);
		break;
	case FS_METADIR:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		break;
	case FS_METAFILE:
		if ((e = fs_meta_text(fs, n->name, &text, &len)) != 0)
			return e;
		free(text);
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = len;
		/* The mount's start, as the directories: a time that moved at
		 * every stat made tar say "file changed as we read it". */
		break;
	case FS_RECORD:
		if ((e = fs_edit_attr(fs, n, st)) != 0)
			return e;
		break;
	case FS_SCRATCH:
		if ((e = fs_scratch_stat(fs, n, st)) != 0)
			return e;
		break;
	}
	st->st_ino = n->ino;
	return 0;
}

/*
 * A remote change touched coll/rec: drop what the kernel caches of it.  The
 * kernel holds an entry only for a name it has a node of (it caches no
 * misses: a lookup of a missing name answers ENOENT, and listings are not
 * cached), so names without one cost no notification: a device catching up
 * takes in every record once, mostly unseen.
 */
static void
fs_observe(void *ctx, const char *coll, const char *rec)
{
	struct fs *fs = ctx;
	char fname[NAME_MAX_BYTES + 8];
	fuse_ino_t cino, rino;

	cino = fs_node_stale(&fs->t, FUSE_ROOT_ID, coll);
	/* A record may have come or gone (its times: fs_getattr). */
	fs_node_touch(&fs->t, cino ? cino : FUSE_ROOT_ID);
	if (cino == 0)
		return;
	if (rec[0] == '\0') {
		fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, coll, strlen(coll));
		return;
	}
	snprintf(fname, sizeof(fname), "%s.json", rec);
	if ((rino = fs_node_stale(&fs->t, cino, fname)) != 0) {
		fuse_lowlevel_notify_inval_inode(fs->se, rino, 0, 0);
		fuse_lowlevel_notify_inval_entry(fs->se, cino, fname, strlen(fname));
	}
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
	fs_loop_attach(fs);
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
			fs_dir_free((struct fs_dir *)o);
		else
			fs_file_free((struct fs_handle *)o);
	}
	if (fs->scratchfd >= 0)
		close(fs->scratchfd);
	fs_loop_attach(NULL);
	fs_pending_free(fs);
	fs_node_fini(&fs->t);
	free(fs->db);
	free(fs);
}
