/* rstore: a blind relay's store of one database; see rstore.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include "core/bytes.h"
#include "core/change.h"
#include "net/rstore.h"

/* What is stored of one origin: blob i is its seq i + 1. */
struct rorigin {
	uint64_t origin;
	size_t n, cap;
	uint64_t *off; /* of the blob (after its length) in changes.log */
	uint32_t *len;
};

struct rstore {
	char dir[PATH_MAX];
	uint8_t netkey[32];
	struct roster roster;
	int fd; /* changes.log, appended */
	uint64_t bytes, quota;
	size_t norigins;
	struct rorigin *o; /* sorted by origin; bounded by the roster's size */
};

int
rstore_parse(const uint8_t *buf, size_t len, const uint8_t **blob, size_t *blen, size_t *used)
{
	uint32_t n;

	if (len < 4)
		return 0;
	n = get32(buf);
	if (n <= CHANGE_HEADER_BYTES + CHANGE_SIG_BYTES || n > CHANGE_MAX_BYTES) {
		errno = EBADMSG;
		return -1;
	}
	if (len - 4 < n)
		return 0;
	*blob = buf + 4;
	*blen = n;
	*used = 4 + (size_t)n;
	return 1;
}

/* Writes a whole file name in dir (mode 0600), synced. */
static int
put_file(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd, rc = -1;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (write(fd, buf, len) == (ssize_t)len && fsync(fd) == 0)
		rc = 0;
	close(fd);
	/* A rename replaces it whole: a crash leaves the old or the new. */
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc)
		unlink(tmp);
	return rc;
}

/* Reads a whole small file (at most max bytes) into a malloc'd *buf. */
static int
get_file(const char *dir, const char *name, size_t max, uint8_t **buf, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) || st.st_size < 0 || (size_t)st.st_size > max ||
	    (*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		errno = errno ? errno : EFBIG;
		return -1;
	}
	r = read(fd, *buf, (size_t)st.st_size);
	close(fd);
	if (r != st.st_size) {
		free(*buf);
		errno = EIO;
		return -1;
	}
	*len = (size_t)r;
	return 0;
}

int
rstore_create(const char *dir, const uint8_t netkey[32], const uint8_t *roster, size_t len)
{
	struct roster r;

	if (roster_decode(roster, len, &r))
		return -1;
	roster_clear(&r);
	if (mkdir(dir, 0700) != 0)
		return -1;
	if (put_file(dir, "network.key", netkey, 32) || put_file(dir, "roster", roster, len))
		return -1;
	return 0;
}

static struct rorigin *
find_origin(struct rstore *s, uint64_t origin, int add)
{
	size_t lo = 0, hi = s->norigins;
	struct rorigin *o;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->o[mid].origin == origin)
			return &s->o[mid];
		if (s->o[mid].origin < origin)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!add)
		return NULL;
	if ((o = realloc(s->o, (s->norigins + 1) * sizeof(*o))) == NULL)
		return NULL;
	s->o = o;
	memmove(&s->o[lo + 1], &s->o[lo], (s->norigins - lo) * sizeof(*o));
	memset(&s->o[lo], 0, sizeof(*o));
	s->o[lo].origin = origin;
	s->norigins++;
	return &s->o[lo];
}

/* Indexes a blob of origin at off (the next seq, checked by the caller). */
static int
index_blob(struct rstore *s, uint64_t origin, uint64_t off, size_t len)
{
	struct rorigin *o = find_origin(s, origin, 1);

	if (o == NULL)
		return -1;
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		uint64_t *offs = realloc(o->off, cap * sizeof(*offs));
		uint32_t *lens;

		if (offs == NULL)
			return -1;
		o->off = offs;
		if ((lens = realloc(o->len, cap * sizeof(*lens))) == NULL)
			return -1;
		o->len = lens;
		o->cap = cap;
	}
	o->off[o->n] = off;
	o->len[o->n] = (uint32_t)len;
	o->n++;
	return 0;
}

static uint64_t
have_seq(struct rstore *s, uint64_t origin)
{
	struct rorigin *o = find_origin(s, origin, 0);

	return o ? o->n : 0;
}

/* Reads the log back, checking every record as if it had just arrived; cuts
 * it at the first that is not whole or not valid. */
static int
load_log(struct rstore *s)
{
	struct stat st;
	uint8_t *map;
	size_t off = 0, used, blen;
	const uint8_t *blob;
	uint64_t origin, seq;
	int r = 0;

	if (fstat(s->fd, &st))
		return -1;
	if (st.st_size == 0)
		return 0;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, s->fd, 0);
	if (map == MAP_FAILED)
		return -1;
	while (off < (size_t)st.st_size &&
	       (r = rstore_parse(map + off, (size_t)st.st_size - off, &blob, &blen, &used)) == 1) {
		if (roster_check_blob(&s->roster, blob, blen, 1, &origin, &seq) ||
		    seq != have_seq(s, origin) + 1) {
			r = -1;
			break;
		}
		if (index_blob(s, origin, off + 4, blen)) {
			munmap(map, (size_t)st.st_size);
			return -1;
		}
		off += used;
	}
	munmap(map, (size_t)st.st_size);
	if (off < (size_t)st.st_size) {
		syslog(LOG_WARNING, "relay: %s/changes.log: %s at byte %zu: cut there", s->dir,
		       r == 0 ? "a record cut short (a crash)" : "a record that does not check",
		       off);
		if (ftruncate(s->fd, (off_t)off) || fsync(s->fd))
			return -1;
	}
	s->bytes = off;
	return 0;
}

struct rstore *
rstore_open(const char *dir, uint64_t quota)
{
	struct rstore *s = calloc(1, sizeof(*s));
	uint8_t *buf = NULL;
	size_t len;
	char path[PATH_MAX];

	if (s == NULL)
		return NULL;
	s->fd = -1;
	s->quota = quota;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	if (get_file(dir, "network.key", 32, &buf, &len))
		goto fail;
	if (len != 32) {
		errno = EINVAL;
		goto fail;
	}
	memcpy(s->netkey, buf, 32);
	sodium_memzero(buf, len);
	free(buf);
	buf = NULL;
	if (get_file(dir, "roster", ROSTER_FIXED_BYTES + ROSTER_MAX * ROSTER_ENTRY_BYTES, &buf,
	             &len) ||
	    roster_decode(buf, len, &s->roster))
		goto fail;
	free(buf);
	buf = NULL;
	snprintf(path, sizeof(path), "%s/changes.log", dir);
	if ((s->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0 || load_log(s))
		goto fail;
	return s;
fail:
	free(buf);
	rstore_close(s);
	return NULL;
}

void
rstore_close(struct rstore *s)
{
	int e = errno;

	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	for (size_t i = 0; i < s->norigins; i++) {
		free(s->o[i].off);
		free(s->o[i].len);
	}
	free(s->o);
	roster_clear(&s->roster);
	sodium_memzero(s->netkey, sizeof(s->netkey));
	free(s);
	errno = e;
}

const struct roster *
rstore_roster(const struct rstore *s)
{
	return &s->roster;
}

const uint8_t *
rstore_netkey(const struct rstore *s)
{
	return s->netkey;
}

uint64_t
rstore_bytes(const struct rstore *s)
{
	return s->bytes;
}

uint64_t
rstore_quota(const struct rstore *s)
{
	return s->quota;
}

int
rstore_set_roster(struct rstore *s, const uint8_t *buf, size_t len)
{
	struct roster r;

	if (roster_decode(buf, len, &r))
		return -1;
	if (!roster_supersedes(&s->roster, &r)) {
		int newer = r.issued_ms > s->roster.issued_ms;

		roster_clear(&r);
		if (!newer)
			return 0;
		errno = EPERM;
		return -1;
	}
	if (put_file(s->dir, "roster", buf, len)) {
		roster_clear(&r);
		return -1;
	}
	roster_clear(&s->roster);
	s->roster = r;
	return 1;
}

int
rstore_set_netkey(struct rstore *s, const uint8_t netkey[32])
{
	if (put_file(s->dir, "network.key", netkey, 32))
		return -1;
	memcpy(s->netkey, netkey, 32);
	return 0;
}

int
rstore_vv(const struct rstore *s, struct vv *v)
{
	vv_clear(v);
	for (size_t i = 0; i < s->norigins; i++)
		if (s->o[i].n > 0 && vv_set(v, s->o[i].origin, s->o[i].n))
			return -1;
	return 0;
}

/* Reads blob i of o into a malloc'd buffer. */
static uint8_t *
read_blob(struct rstore *s, const struct rorigin *o, size_t i)
{
	uint8_t *b = malloc(o->len[i] ? o->len[i] : 1);

	if (b != NULL && pread(s->fd, b, o->len[i], (off_t)o->off[i]) != (ssize_t)o->len[i]) {
		free(b);
		errno = EIO;
		return NULL;
	}
	return b;
}

int
rstore_add(struct rstore *s, const uint8_t *blob, size_t len)
{
	uint64_t origin, seq, have;
	uint8_t hdr[4];
	struct iovec iov[2];
	struct stat st;

	if (roster_check_blob(&s->roster, blob, len, 0, &origin, &seq))
		return -1;
	have = have_seq(s, origin);
	if (seq > have + 1)
		return RSTORE_GAP;
	if (seq <= have) {
		const struct rorigin *o = find_origin(s, origin, 0);
		uint8_t *b = read_blob(s, o, seq - 1);
		int same;

		if (b == NULL)
			return -1;
		same = o->len[seq - 1] == len && memcmp(b, blob, len) == 0;
		free(b);
		if (!same) {
			errno = EBADMSG;
			return -1;
		}
		return RSTORE_DUPLICATE;
	}
	if (s->quota && s->bytes + 4 + len > s->quota) {
		errno = EDQUOT;
		return -1;
	}
	be32(hdr, (uint32_t)len);
	iov[0].iov_base = hdr;
	iov[0].iov_len = 4;
	iov[1].iov_base = (void *)blob;
	iov[1].iov_len = len;
	if (fstat(s->fd, &st))
		return -1;
	if (writev(s->fd, iov, 2) != (ssize_t)(4 + len)) {
		/* A short append is cut off again, so the log stays whole. */
		if (ftruncate(s->fd, st.st_size) == 0)
			errno = errno ? errno : ENOSPC;
		return -1;
	}
	if (index_blob(s, origin, (uint64_t)st.st_size + 4, len))
		return -1;
	s->bytes = (uint64_t)st.st_size + 4 + len;
	return RSTORE_STORED;
}

int
rstore_sync(struct rstore *s)
{
	return fdatasync(s->fd);
}

/* 1 if origin is in v (whatever its seq, 0 too). */
static int
listed(const struct vv *v, uint64_t origin)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->e[mid].origin < origin)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n && v->e[lo].origin == origin;
}

long
rstore_missing(struct rstore *s, const struct vv *have, size_t max_bytes, rstore_blob_cb *cb,
               void *ctx)
{
	return rstore_missing_of(s, have, NULL, max_bytes, cb, ctx);
}

long
rstore_missing_of(struct rstore *s, const struct vv *have, const struct vv *only, size_t max_bytes,
                  rstore_blob_cb *cb, void *ctx)
{
	size_t bytes = 0;
	long count = 0;

	for (size_t i = 0; i < s->norigins; i++) {
		const struct rorigin *o = &s->o[i];

		if (only != NULL && !listed(only, o->origin))
			continue;
		for (uint64_t seq = vv_get(have, o->origin) + 1; seq <= o->n; seq++) {
			uint8_t *b;
			int rc;

			if (count > 0 && bytes + o->len[seq - 1] > max_bytes)
				return count;
			if ((b = read_blob(s, o, seq - 1)) == NULL)
				return -1;
			rc = cb(ctx, o->origin, seq, b, o->len[seq - 1]);
			free(b);
			if (rc)
				return rc < 0 ? -1 : count;
			bytes += o->len[seq - 1];
			count++;
		}
	}
	return count;
}
