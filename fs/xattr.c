/*
 * xattr: extended attributes.  A scratch file has those of its real file; a
 * record has two read-only ones, its conflicts (as JSON) and its version; the
 * rest have none.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "core/journal.h"
#include "core/record.h"
#include "fs/fs_int.h"

#define XATTR_CONFLICTS "user.blazefs.conflicts"
#define XATTR_VERSION "user.blazefs.version"

/* The virtual attributes of a record: its conflicts and its version. */
static int
xattr_record(struct fs *fs, struct fs_node *n, const char *name, char **val, size_t *len)
{
	char id[NAME_MAX_BYTES + 1];
	struct journal_stat js;

	if (record_file_id(n->name, id))
		return ENODATA;
	if (strcmp(name, XATTR_CONFLICTS) == 0) {
		if ((*val = journal_conflicts_json(fs->j, fs_coll_of(fs, n), id)) == NULL)
			return errno ? errno : EIO;
	} else if (strcmp(name, XATTR_VERSION) == 0) {
		if (journal_stat_record(fs->j, fs_coll_of(fs, n), id, &js))
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

int
fs_xattr_get(struct fs *fs, struct fs_node *n, const char *name, size_t size, char **val,
             size_t *len)
{
	char path[PATH_MAX];
	ssize_t got;
	int r;

	*val = NULL;
	*len = 0;
	if (n && n->kind == FS_SCRATCH) {
		if ((r = fs_scratch_abspath(fs, n, path, sizeof(path))) != 0)
			return r;
		if ((got = lgetxattr(path, name, NULL, 0)) < 0 ||
		    (*val = malloc(got + 1)) == NULL ||
		    (got = lgetxattr(path, name, *val, got)) < 0)
			return errno;
		*len = got;
	} else if (n && n->kind == FS_RECORD) {
		if ((r = xattr_record(fs, n, name, val, len)) != 0)
			return r;
	} else {
		return ENODATA;
	}
	return xattr_fits(*len, size);
}

int
fs_xattr_list(struct fs *fs, struct fs_node *n, size_t size, char **val, size_t *len)
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
		if ((r = fs_scratch_abspath(fs, n, path, sizeof(path))) != 0)
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

int
fs_xattr_set(struct fs *fs, struct fs_node *n, const char *name, const char *value, size_t size,
             int flags)
{
	char path[PATH_MAX];
	int r;

	if (n == NULL || n->kind != FS_SCRATCH)
		return ENOTSUP;
	if ((r = fs_scratch_abspath(fs, n, path, sizeof(path))) != 0)
		return r;
	return lsetxattr(path, name, value, size, flags) ? errno : 0;
}

int
fs_xattr_remove(struct fs *fs, struct fs_node *n, const char *name)
{
	char path[PATH_MAX];
	int r;

	if (n == NULL || n->kind != FS_SCRATCH)
		return ENOTSUP;
	if ((r = fs_scratch_abspath(fs, n, path, sizeof(path))) != 0)
		return r;
	return lremovexattr(path, name) ? errno : 0;
}
