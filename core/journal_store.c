#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "core/bytes.h"
#include "core/hlc.h"
#include "core/journal_int.h"

#define DEFAULT_MAPSIZE ((size_t)64 << 30) /* address space only: the file grows as used */
#define MAP_RSS_MAX ((size_t)64 << 20)     /* of the map resident in the process (jn_trim) */
#define TRIM_US 50000                      /* jn_trim looks at most this often */

static size_t initial_mapsize, map_rss_max = MAP_RSS_MAX;

/* ---- errors: LMDB codes map to errno here and only here ---- */

int
jn_errno(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		errno = ENOENT;
	else if (rc == MDB_MAP_FULL)
		errno = ENOSPC;
	else if (rc > 0)
		errno = rc;
	else
		errno = EIO;
	return -1;
}

/* ---- the environment and its named databases ---- */

static int
jn_open_dbs(struct journal *j, MDB_txn *txn, unsigned int create)
{
	static const struct {
		const char *name;
		size_t off;
		unsigned int flags;
	} dbs[] = {
	    {"meta", offsetof(struct journal, meta), 0},
	    {"changes", offsetof(struct journal, changes), 0},
	    {"vv", offsetof(struct journal, vv), 0},
	    {"fields", offsetof(struct journal, fields), 0},
	    {"superseded", offsetof(struct journal, superseded), MDB_DUPSORT},
	    {"records", offsetof(struct journal, records), 0},
	    {"collections", offsetof(struct journal, cols), 0},
	    {"conflicts", offsetof(struct journal, conflicts), 0},
	    {"rejects", offsetof(struct journal, rejects), 0},
	    {"members", offsetof(struct journal, members), 0},
	    {"evidence", offsetof(struct journal, evidence), 0},
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
		if ((rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | create,
		                       (MDB_dbi *)((char *)j + dbs[i].off))))
			return rc;
	return 0;
}

struct journal *
jn_env(const char *dir, int flags, unsigned int create)
{
	struct journal *j;
	unsigned int ef = MDB_NOTLS | MDB_NOSUBDIR;
	char *path = NULL;
	MDB_txn *txn;
	int rc;

	if (sodium_init() < 0) {
		errno = EIO;
		return NULL;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->flags = flags;
	if (flags & JOURNAL_NOSYNC)
		ef |= MDB_NOSYNC;
	else
		ef |= MDB_NOMETASYNC;
	if (flags & JOURNAL_RDONLY)
		ef |= MDB_RDONLY;
	if (asprintf(&path, "%s/data.mdb", dir) < 0) {
		path = NULL;
		rc = ENOMEM;
		goto err;
	}
	if ((rc = mdb_env_create(&j->env)) || (rc = mdb_env_set_maxdbs(j->env, 16)) ||
	    (rc = mdb_env_set_mapsize(j->env, initial_mapsize ? initial_mapsize : DEFAULT_MAPSIZE)))
		goto err;
	if (!create) {
		struct stat st;

		if (stat(path, &st) != 0) {
			rc = errno == ENOENT ? ENOENT : errno;
			goto err;
		}
	}
	if ((rc = mdb_env_open(j->env, path, ef, 0600)))
		goto err;
	free(path);
	path = NULL;
	if ((rc = mdb_txn_begin(j->env, NULL, flags & JOURNAL_RDONLY ? MDB_RDONLY : 0, &txn)))
		goto err;
	if ((rc = jn_open_dbs(j, txn, create ? MDB_CREATE : 0))) {
		mdb_txn_abort(txn);
		goto err;
	}
	if ((rc = mdb_txn_commit(txn)))
		goto err;
	return j;
err:
	free(path);
	if (j->env != NULL)
		mdb_env_close(j->env);
	free(j);
	jn_errno(rc);
	return NULL;
}

void
journal_set_initial_mapsize(size_t bytes)
{
	initial_mapsize = bytes;
}

void
journal_set_map_rss_max(size_t bytes)
{
	map_rss_max = bytes ? bytes : MAP_RSS_MAX;
}

/* Keeps the map where it is (or waits for whoever does) until
 * jn_map_release: around mdb_env_set_mapsize and what uses the map's
 * address.  Held for microseconds: a spin. */
static void
jn_map_hold(struct journal *j)
{
	while (__atomic_exchange_n(&j->map_busy, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void
jn_map_release(struct journal *j)
{
	__atomic_store_n(&j->map_busy, 0, __ATOMIC_RELEASE);
}

/* Drops the pages of the map (the mappings of the database's file, found
 * by device and inode) from the process. */
static void
jn_unmap_pages(struct journal *j)
{
	unsigned long lo, hi, maj, min, ino;
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *f;
	int fd;

	if (mdb_env_get_fd(j->env, &fd) || fstat(fd, &st) ||
	    (f = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (getline(&line, &cap, f) > 0)
		if (sscanf(line, "%lx-%lx %*s %*s %lx:%lx %lu", &lo, &hi, &maj, &min, &ino) == 5 &&
		    ino == st.st_ino && makedev(maj, min) == st.st_dev)
			madvise((void *)lo, hi - lo, MADV_DONTNEED);
	free(line);
	fclose(f);
}

void
jn_trim(struct journal *j)
{
	unsigned long size, resident, shared = 0;
	uint64_t now = hlc_mono_us();
	FILE *f;

	if (now - __atomic_load_n(&j->trim_us, __ATOMIC_RELAXED) < TRIM_US)
		return;
	__atomic_store_n(&j->trim_us, now, __ATOMIC_RELAXED);
	/* Best effort: what fails here costs memory, not data. */
	if ((f = fopen("/proc/self/statm", "re")) == NULL)
		return;
	if (fscanf(f, "%lu %lu %lu", &size, &resident, &shared) != 3)
		shared = 0;
	fclose(f);
	if (shared * (size_t)sysconf(_SC_PAGESIZE) <= map_rss_max)
		return;
	jn_map_hold(j);
	jn_unmap_pages(j);
	jn_map_release(j);
}

void
journal_trim(struct journal *j)
{
	jn_trim(j);
}

/* ---- transactions ---- */

int
jn_txn_begin(struct journal *j, MDB_txn *parent, unsigned int flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(j->env, parent, flags, txn);

	/* Another process grew the map: adopt its size and begin again. */
	if (rc == MDB_MAP_RESIZED) {
		jn_map_hold(j);
		rc = mdb_env_set_mapsize(j->env, 0);
		jn_map_release(j);
		if (rc == 0)
			rc = mdb_txn_begin(j->env, parent, flags, txn);
	}
	return rc;
}

int
jn_grow(struct journal *j)
{
	MDB_envinfo info;
	int rc;

	/* Address space only: the file grows as pages are used. */
	jn_map_hold(j);
	if ((rc = mdb_env_info(j->env, &info)) == 0)
		rc = mdb_env_set_mapsize(j->env, info.me_mapsize * 2);
	jn_map_release(j);
	return rc;
}

int
jn_write(struct journal *j, txn_fn *fn, void *arg)
{
	MDB_txn *txn;
	int rc, tries, local;

	for (tries = 0;; tries++) {
		if ((rc = jn_txn_begin(j, NULL, 0, &txn)))
			return jn_errno(rc);
		j->local_commit = 0; /* protected by the write lock, like the clock */
		if ((rc = fn(j, txn, arg)) == TXN_NOOP) {
			mdb_txn_abort(txn);
			return 0;
		}
		if (rc == 0) {
			local = j->local_commit; /* read while still holding the lock */
			jn_trim(j);
			rc = mdb_txn_commit(txn);
			if (rc == 0 && local && j->on_local != NULL)
				j->on_local(j->on_local_ctx);
		} else {
			mdb_txn_abort(txn);
		}
		if (rc != MDB_MAP_FULL || tries >= MAX_GROW)
			return jn_errno(rc);
		/* The map is full: double it and try again. */
		if ((rc = jn_grow(j)))
			return jn_errno(rc);
	}
}

int
jn_snapshot(struct journal *j, MDB_txn **txn)
{
	return jn_txn_begin(j, NULL, MDB_RDONLY, txn);
}

int
jn_sync(struct journal *j)
{
	MDB_envinfo info;
	size_t cur;
	int rc;

	if (j->flags & JOURNAL_RDONLY)
		return 0;
	/* Read first: the meta page of every txn up to here is written (its
	 * readers see it through the map), so the sync below covers it. */
	if ((rc = mdb_env_info(j->env, &info)) || (rc = mdb_env_sync(j->env, 1)))
		return rc;
	cur = __atomic_load_n(&j->synced_txnid, __ATOMIC_ACQUIRE);
	while (cur < info.me_last_txnid &&
	       !__atomic_compare_exchange_n(&j->synced_txnid, &cur, info.me_last_txnid, 0,
	                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	return 0;
}

int
jn_snapshot_synced(struct journal *j, MDB_txn **txn)
{
	int rc;

	if ((rc = jn_snapshot(j, txn)))
		return rc;
	if ((rc = jn_durable(j, *txn))) {
		mdb_txn_abort(*txn);
		*txn = NULL;
	}
	return rc;
}

int
jn_durable(struct journal *j, MDB_txn *txn)
{
	if (j->flags & JOURNAL_RDONLY ||
	    mdb_txn_id(txn) <= __atomic_load_n(&j->synced_txnid, __ATOMIC_ACQUIRE))
		return 0;
	/* The sync reads a txn id >= the snapshot's: it covers it. */
	return jn_sync(j);
}

pid_t
jn_tid(void)
{
	static __thread pid_t tid;

	if (tid == 0)
		tid = gettid();
	return tid;
}

int
jn_owner(const struct journal *j)
{
	return j->wal != NULL && j->owner == jn_tid();
}

int
jn_read_begin(struct journal *j, MDB_txn **txn, int *borrowed)
{
	/* Only the owner reads j->batch: other threads never touch it.  After
	 * a failed commit its writes are in the wal only: apply them again (if
	 * that fails too, what is committed is still worth reading). */
	if (jn_owner(j))
		(void)jn_batch_resume(j);
	*borrowed = jn_owner(j) && j->batch != NULL;
	if (*borrowed) {
		*txn = j->batch;
		return 0;
	}
	return jn_snapshot(j, txn);
}

void
jn_read_end(MDB_txn *txn, int borrowed)
{
	if (!borrowed)
		mdb_txn_abort(txn);
}

/* ---- typed values of the named databases ---- */

int
jn_meta_get(struct journal *j, MDB_txn *txn, const char *key, MDB_val *v)
{
	MDB_val k = jn_val(key, strlen(key));

	return mdb_get(txn, j->meta, &k, v);
}

int
jn_meta_put(struct journal *j, MDB_txn *txn, const char *key, const void *p, size_t n)
{
	MDB_val k = jn_val(key, strlen(key)), v = jn_val(p, n);

	return mdb_put(txn, j->meta, &k, &v, 0);
}

int
jn_reg_get(struct journal *j, MDB_txn *txn, const uint8_t *k, size_t kl, struct crdt_reg *r)
{
	MDB_val key = jn_val(k, kl), v;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = mdb_get(txn, j->fields, &key, &v)) == MDB_NOTFOUND)
		return 0;
	return rc ? rc : crdt_reg_decode(v.mv_data, v.mv_size, r);
}

int
jn_reg_put(struct journal *j, MDB_txn *txn, const uint8_t *k, size_t kl, struct crdt_reg *r)
{
	MDB_val key = jn_val(k, kl), v;
	uint8_t *b;
	size_t n;
	int rc;

	if (r->n == 0) {
		rc = mdb_del(txn, j->fields, &key, NULL);
		if (rc == 0 || rc == MDB_NOTFOUND)
			rc = mdb_del(txn, j->conflicts, &key, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	if ((rc = crdt_reg_encode(r, &b, &n)))
		return rc;
	v = jn_val(b, n);
	rc = mdb_put(txn, j->fields, &key, &v, 0);
	free(b);
	if (rc)
		return rc;
	if (crdt_reg_conflict(r)) {
		v = jn_val("", 0);
		return mdb_put(txn, j->conflicts, &key, &v, 0);
	}
	rc = mdb_del(txn, j->conflicts, &key, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

uint64_t
jn_vv_get(struct journal *j, MDB_txn *txn, uint64_t origin)
{
	uint8_t k[8];
	MDB_val key = jn_val(k, 8), v;

	be64(k, origin);
	if (mdb_get(txn, j->vv, &key, &v) != 0 || v.mv_size != 8)
		return 0;
	return get64(v.mv_data);
}

int
jn_vv_put(struct journal *j, MDB_txn *txn, uint64_t origin, uint64_t seq)
{
	uint8_t k[8], s[8];
	MDB_val key = jn_val(k, 8), v = jn_val(s, 8);

	be64(k, origin);
	be64(s, seq);
	return mdb_put(txn, j->vv, &key, &v, 0);
}
