/*
 * node: the inode table of a mount — each inode the kernel knows, found by
 * number or by (parent, name), with the kernel's lookup count.  Nodes are
 * freed when the kernel forgets them and no handle is open.  All functions
 * take the table's lock themselves except where noted.
 */
#ifndef BLAZEFS_FS_NODE_H
#define BLAZEFS_FS_NODE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fs/fs.h"

enum fs_kind { FS_ROOT, FS_METADIR, FS_METAFILE, FS_COLL, FS_RECORD, FS_SCRATCH };

struct fs_node {
	fuse_ino_t ino;
	enum fs_kind kind;       /* protected by the table lock */
	fuse_ino_t parent;       /* protected by the table lock */
	char *name;              /* protected by the table lock */
	uint64_t nlookup;        /* protected by the table lock */
	int indexed;             /* in the name index; protected by the table lock */
	uint64_t cached_version; /* version the kernel cache holds; table lock */
	struct timespec dtime;   /* a directory's last entry change, or 0; table lock */

	/* Fuse thread only: the open record's content. */
	unsigned nopen;
	char *buf;
	size_t len, cap;
	char *base; /* the record as this device last read or wrote it, or NULL */
	size_t baselen;
	int dirty;    /* buf differs from what the journal holds */
	int unlinked; /* removed while open: never commit */
	int created;  /* opened by a create: its emptiness is no error at flush */
	int toobig;   /* the last write went past RECORD_MAX_BYTES: commit nothing, EFBIG */
};

struct fs_table {
	pthread_mutex_t lock;
	void *by_ino, *by_name;
	fuse_ino_t next_ino;
};

/* Initialises t with the root (ino 1).  Returns 0 or -1. */
int fs_node_init(struct fs_table *t);
/* Frees every node. */
void fs_node_fini(struct fs_table *t);

/* The node numbered ino, or NULL. */
struct fs_node *fs_node_get(struct fs_table *t, fuse_ino_t ino);
/* The node named name in parent, or NULL. */
struct fs_node *fs_node_find(struct fs_table *t, fuse_ino_t parent, const char *name);

/*
 * Returns the node named name in parent, made with kind if absent, its kind
 * set to kind otherwise, with its lookup count raised by one.  NULL if out of
 * memory.
 */
struct fs_node *fs_node_lookup(struct fs_table *t, fuse_ino_t parent, const char *name,
                               enum fs_kind kind);

/* Drops the name of n (unlink, rmdir, replaced by a rename). */
void fs_node_unname(struct fs_table *t, struct fs_node *n);

/* Moves n to (parent, name), unnaming any node there.  Returns 0 or -1. */
int fs_node_rename(struct fs_table *t, struct fs_node *n, fuse_ino_t parent, const char *name);

/* Lowers the lookup count of ino by nlookup; frees the node if unused. */
void fs_node_forget(struct fs_table *t, fuse_ino_t ino, uint64_t nlookup);

/*
 * Marks the node named name in parent stale (its kernel cache no longer
 * matches) and returns its number, or 0 if there is none.
 */
fuse_ino_t fs_node_stale(struct fs_table *t, fuse_ino_t parent, const char *name);

/* Sets the mtime and ctime of directory ino (if known) to now: an entry of
 * it came or went. */
void fs_node_touch(struct fs_table *t, fuse_ino_t ino);

/* Frees n if the kernel forgot it and no handle is open (after a release). */
void fs_node_release(struct fs_table *t, struct fs_node *n);

#endif
