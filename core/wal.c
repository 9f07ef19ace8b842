#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/bytes.h"
#include "core/wal.h"

#define WAL_HEAD1 20 /* old format: u32 length + 16-byte hash */
#define WAL_HEAD 32  /* magic + u32 length + 16-byte hash + u64 txn */
#define WAL_MAGIC "BWL2"

struct wal {
	int fd;
	off_t len; /* what the file holds: every entry appended whole */
};

int
wal_open(const char *dir, struct wal **out)
{
	struct stat st;
	struct wal *w;
	char *path;
	int fd, e;

	*out = NULL;
	if (asprintf(&path, "%s/wal", dir) < 0) {
		errno = ENOMEM;
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0) {
		e = errno == EWOULDBLOCK ? EBUSY : errno;
		goto err0;
	}
	if ((w = malloc(sizeof(*w))) == NULL) {
		e = ENOMEM;
		goto err0;
	}
	w->fd = fd;
	w->len = st.st_size;
	*out = w;
	return 0;
err0:
	close(fd);
	errno = e;
	return -1;
}

void
wal_close(struct wal *w)
{
	if (w == NULL)
		return;
	close(w->fd);
	free(w);
}

off_t
wal_size(const struct wal *w)
{
	return w->len;
}

/* How many args each op takes; 0 for a byte that is no op. */
static int
wal_arity(int op)
{
	switch (op) {
	case WAL_WRITE:
		return 3;
	case WAL_EDIT:
	case WAL_RENAME:
	case WAL_REJECT_PUT:
		return 4;
	case WAL_DEVICE:
	case WAL_DELETE:
	case WAL_META_PUT:
	case WAL_REJECT_DEL:
		return 2;
	case WAL_MKCOL:
	case WAL_RMCOL:
		return 1;
	default:
		return 0;
	}
}

int
wal_encode(enum wal_op op, uint64_t txn, const struct wal_arg *a, int na, uint8_t **out,
           size_t *len)
{
	size_t n = 1, off, i;
	uint8_t *b;

	*out = NULL;
	*len = 0;
	if (txn == 0 || na < 0 || na > WAL_MAX_ARGS) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < (size_t)na; i++) {
		if (a[i].n > UINT32_MAX - 64 || n + 4 + a[i].n > UINT32_MAX - 8) {
			errno = EINVAL;
			return -1;
		}
		n += 4 + a[i].n;
	}
	if ((b = malloc(WAL_HEAD + n)) == NULL)
		return -1;
	memcpy(b, WAL_MAGIC, 4);
	be32(b + 4, (uint32_t)n);
	be64(b + 24, txn);
	b[WAL_HEAD] = (uint8_t)op;
	for (off = WAL_HEAD + 1, i = 0; i < (size_t)na; i++) {
		be32(b + off, (uint32_t)a[i].n);
		if (a[i].n > 0)
			memcpy(b + off + 4, a[i].p, a[i].n);
		off += 4 + a[i].n;
	}
	/* The hash covers the txn id: a torn or damaged id is a damaged entry. */
	crypto_generichash(b + 8, 16, b + 24, 8 + n, NULL, 0);
	*out = b;
	*len = WAL_HEAD + n;
	return 0;
}

int
wal_append(struct wal *w, enum wal_op op, uint64_t txn, const struct wal_arg *a, int na)
{
	uint8_t *b;
	size_t n, off;
	ssize_t r;
	int e = 0;

	if (wal_encode(op, txn, a, na, &b, &n))
		return -1;
	for (off = 0; off < n; off += (size_t)r) {
		if ((r = write(w->fd, b + off, n - off)) < 0) {
			e = errno;
			/* A torn entry would hide the ones after it: cut it off. */
			if (ftruncate(w->fd, w->len) != 0)
				e = EIO;
			break;
		}
	}
	free(b);
	if (e) {
		errno = e;
		return -1;
	}
	w->len += (off_t)n;
	return 0;
}

int
wal_truncate(struct wal *w, off_t len)
{
	if (ftruncate(w->fd, len) != 0)
		return -1;
	w->len = len;
	return 0;
}

int
wal_read(struct wal *w, uint8_t **buf, size_t *len)
{
	struct stat st;
	size_t off;
	ssize_t r;

	*buf = NULL;
	*len = 0;
	if (fstat(w->fd, &st) != 0 || (*buf = malloc((size_t)st.st_size + 1)) == NULL)
		return -1;
	for (off = 0; off < (size_t)st.st_size; off += (size_t)r)
		if ((r = pread(w->fd, *buf + off, (size_t)st.st_size - off, (off_t)off)) <= 0)
			break;
	*len = off;
	return 0;
}

/* The framing of the entry at p (left bytes): its header size, body length
 * and txn id, or 0 if it is torn or damaged. */
static size_t
wal_frame(const uint8_t *p, size_t left, size_t *bl, uint64_t *txn)
{
	uint8_t h[16];

	if (left >= WAL_HEAD + 1 && memcmp(p, WAL_MAGIC, 4) == 0) {
		*bl = get32(p + 4);
		if (*bl == 0 || *bl > left - WAL_HEAD)
			return 0;
		crypto_generichash(h, 16, p + 24, 8 + *bl, NULL, 0);
		if (memcmp(h, p + 8, 16) != 0 || (*txn = get64(p + 24)) == 0)
			return 0;
		return WAL_HEAD;
	}
	/* The old format: no txn id. */
	if (left < WAL_HEAD1 + 1)
		return 0;
	*bl = get32(p);
	if (*bl == 0 || *bl > left - WAL_HEAD1)
		return 0;
	crypto_generichash(h, 16, p + WAL_HEAD1, *bl, NULL, 0);
	if (memcmp(h, p + 4, 16) != 0)
		return 0;
	*txn = 0;
	return WAL_HEAD1;
}

int
wal_next(const uint8_t *buf, size_t len, size_t *off, struct wal_entry *e)
{
	const uint8_t *p, *end;
	uint32_t an;
	size_t bl, head;
	uint64_t txn;

	memset(e, 0, sizeof(*e));
	if (*off > len)
		return 0;
	p = buf + *off;
	if ((head = wal_frame(p, len - *off, &bl, &txn)) == 0)
		return 0;
	*off += head + bl;
	end = p + head + bl;
	p += head;
	e->txn = txn;
	e->op = (enum wal_op) * p++;
	/* Arguments past WAL_MAX_ARGS are ignored, as they always were. */
	while (e->nargs < WAL_MAX_ARGS && p < end) {
		if (end - p < 4 || (an = get32(p)) > (size_t)(end - p - 4)) {
			e->op = WAL_NONE;
			return 1;
		}
		e->arg[e->nargs].p = p + 4;
		e->arg[e->nargs].n = an;
		e->nargs++;
		p += 4 + an;
	}
	if (wal_arity(e->op) != e->nargs)
		e->op = WAL_NONE;
	return 1;
}
