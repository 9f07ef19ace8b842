/*
 * fs_int: what the files of fs/ share, and nothing outside fs/ may use.
 *
 *   fs.c       struct fs, the mount's state: its lifecycle, the list of open
 *              files and directories, the journal observer, attributes
 *   ops.c      the fuse_lowlevel_ops table: thin ops that each reply once
 *   file.c     open files (struct fs_handle, in fi->fh) of every kind
 *   edit.c     records as files, and the edit buffer of an open record
 *   scratch.c  scratch files: real files under DB/scratch/<collection>/
 *   dir.c      directories and names: lookup, listings (struct fs_dir, in
 *              fi->fh), mkdir, rmdir, unlink, symlink, mknod
 *   meta.c     the read-only .blazefs/ files
 *   rename.c   rename, within and across records and scratch files
 *   xattr.c    extended attributes
 *   pending.c  deletes of records held back for a grace period, so that a
 *              delete and a re-create are one edit
 *   node.c     the inode table (fs/node.h); loop.c the request loop
 *
 * Each op is split as libfuse's passthrough_ll is: a do-the-work function
 * here returns 0 or an errno (not -1: the errno is the reply) and fills its
 * result, and the thin op in ops.c replies exactly once with it.  All of it
 * runs on the FUSE thread; only the inode table is shared with the journal's
 * observer (fs/node.h).
 */
#ifndef BLAZEFS_FS_INT_H
#define BLAZEFS_FS_INT_H

#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include "core/record.h"
#include "fs/fs.h"
#include "fs/node.h"

#define FS_TIMEOUT 1.0 /* seconds the kernel may cache entries and attributes */
#define FS_PATHLEN (NAME_MAX_BYTES + NAME_MAX + 2) /* "coll/name" of a scratch file */
#define FS_GRACE_MS 1500 /* a record's delete is held back this long (pending.c) */

/* A link in the list of every open file and directory, the first member of
 * struct fs_handle and struct fs_dir: shutdown frees what the kernel never
 * released. */
struct fs_open {
	struct fs_open *prev, *next;
	int is_dir;
};

struct fs {
	struct fs_table t;
	struct fs_open opens; /* list head */
	struct journal *j;    /* the caller's */
	struct fuse_session *se;
	char *db;
	fs_status_fn *status; /* the network's state, or NULL */
	void *status_ctx;
	int scratchfd; /* DB/scratch: one directory per collection */
	uid_t uid;
	gid_t gid;
	time_t started;
	struct fs_pending *pending; /* deletes held back (pending.c) */
};

struct fs_dir;
struct fs_handle;

/* ---- fs.c ---- */

/* Adds o, a new open file (is_dir 0) or directory, to the list of fs. */
void fs_open_link(struct fs *fs, struct fs_open *o, int is_dir);
/* Takes o off the list. */
void fs_open_unlink(struct fs_open *o);
/* The name of the collection holding n (a record or scratch file), or "". */
const char *fs_coll_of(struct fs *fs, const struct fs_node *n);
/* Sets the access, change and modification times of st. */
void fs_set_times(struct stat *st, time_t sec, long nsec);
/* Fills st with the attributes of n, whatever its kind. */
int fs_getattr(struct fs *fs, struct fs_node *n, struct stat *st);

/* ---- file.c ---- */

/* Opens node ino: sets fi->fh and the open flags of fi. */
int fs_file_open(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi);
/* Creates (or opens, unless O_EXCL) name in parent and opens it; fills e. */
int fs_file_create(struct fs *fs, fuse_ino_t parent, const char *name, mode_t mode,
                   struct fuse_file_info *fi, struct fuse_entry_param *e);
/*
 * Sets *out to at most size bytes at off of file ino open as fi: a slice of
 * the handle's or the node's bytes, or of *tofree (malloc'd, or NULL), which
 * the caller frees after the reply.
 */
int fs_file_read(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi, size_t size, off_t off,
                 const char **out, size_t *len, char **tofree);
/* Writes size bytes of buf at off; *done is how many were written. */
int fs_file_write(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi, const char *buf,
                  size_t size, off_t off, size_t *done);
/* A close of one descriptor: commits a record's non-empty dirty buffer. */
int fs_file_flush(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi);
/* Commits and syncs the file, or its scratch file. */
int fs_file_fsync(struct fs *fs, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
/* Changes what to_set says of node ino (fi NULL if not through a handle);
 * fills st with the attributes after. */
int fs_file_setattr(struct fs *fs, fuse_ino_t ino, struct stat *attr, int to_set,
                    struct fuse_file_info *fi, struct stat *st);
/* The last close of the handle in fi: frees it, committing a record's buffer
 * at its last open. */
void fs_file_release(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi);
/* Frees a handle the kernel never released (at shutdown). */
void fs_file_free(struct fs_handle *h);

/* ---- edit.c ---- */

/* The bytes a read of record id shows: a rejected write, else the record.
 * *buf is malloc'd. */
int fs_edit_load(struct fs *fs, const char *coll, const char *id, char **buf, size_t *len);
/* 1 if record id of coll has a rejected write, else 0. */
int fs_edit_rejected(struct fs *fs, const char *coll, const char *id);
/* Size, mode and times of record n, from its buffer, a rejected write or the
 * journal. */
int fs_edit_attr(struct fs *fs, struct fs_node *n, struct stat *st);
/* 1 if record file fname exists in collection node p (open, rejected or
 * stored), else 0. */
int fs_edit_exists(struct fs *fs, struct fs_node *p, const char *fname);
/*
 * Writes buf as record id of coll (its file named fname, for the log), as an
 * edit of base unless that is NULL, and clears a rejected write of it, in one
 * journal call; sets *version (unless NULL) to the record's version after it.
 * Bad content is kept as the rejected write instead and gives EINVAL.
 */
int fs_edit_put(struct fs *fs, const char *coll, const char *fname, const char *id,
                const char *base, size_t baselen, const char *buf, size_t len, uint64_t *version);
/*
 * One more open of record n with open flags, as a new record if create:
 * loads its buffer at the first.  Sets *keep if the kernel's cache of the
 * content is still valid.
 */
int fs_edit_open(struct fs *fs, struct fs_node *n, int flags, int create, int *keep);
/* Drops one open of n, committing a dirty buffer at the last one. */
void fs_edit_close(struct fs *fs, struct fs_node *n);
/* Commits the dirty buffer of open record n as one change. */
int fs_edit_commit(struct fs *fs, struct fs_node *n);
/*
 * Before a read of open record n: shows in its buffer a change from elsewhere
 * (the observer zeroes cached_version), unless this device has unsaved
 * writes there.
 */
void fs_edit_refresh(struct fs *fs, struct fs_node *n);
/* Writes size bytes of buf at off (at the end if append) of open record n. */
int fs_edit_write(struct fs_node *n, const char *buf, size_t size, off_t off, int append,
                  size_t *done);
/* Sets the size of record n, open or not. */
int fs_edit_truncate(struct fs *fs, struct fs_node *n, off_t size);

/* ---- scratch.c ---- */

/* Sets out (FS_PATHLEN bytes) to "coll/name" under the scratch directory. */
int fs_scratch_path(char *out, const char *coll, const char *name);
/* Sets out to the absolute path of scratch file n. */
int fs_scratch_abspath(struct fs *fs, struct fs_node *n, char *out, size_t size);
/* Makes the scratch directory of coll if it is missing. */
int fs_scratch_mkdir(struct fs *fs, const char *coll);
/* 1 if the scratch directory of coll is empty or absent, 0 if not, -1 with
 * errno. */
int fs_scratch_empty(struct fs *fs, const char *coll);
/* Removes the (empty) scratch directory of coll; logs a failure. */
void fs_scratch_rmdir(struct fs *fs, const char *coll);
/*
 * Appends the names of coll's scratch files to *names (*n of them, each
 * malloc'd and prefixed by its d_type byte).  On failure the names read so
 * far stay in *names: the caller frees them either way.
 */
int fs_scratch_list(struct fs *fs, const char *coll, char ***names, size_t *n);
/* Syncs the scratch directory of coll, if there is one. */
int fs_scratch_syncdir(struct fs *fs, const char *coll);
/* The statistics of the file system that holds the scratch files. */
int fs_scratch_statfs(struct fs *fs, struct statvfs *sv);
/* Fills st with the attributes of scratch file n. */
int fs_scratch_stat(struct fs *fs, struct fs_node *n, struct stat *st);
/* 1 if scratch file name exists in coll, else 0. */
int fs_scratch_exists(struct fs *fs, const char *coll, const char *name);
/* Opens scratch file n with open flags (O_CREAT makes it with mode); *fd. */
int fs_scratch_open(struct fs *fs, struct fs_node *n, int flags, mode_t mode, int *fd);
/* Reads at most size bytes at off of fd into *buf (malloc'd, even on error). */
int fs_scratch_read(int fd, size_t size, off_t off, char **buf, size_t *len);
/* Changes what set says of scratch file n, through fd unless it is -1. */
int fs_scratch_setattr(struct fs *fs, struct fs_node *n, struct stat *a, int set, int fd);
/* Reads scratch file name of coll whole into *buf (malloc'd), up to one byte
 * more than a record may hold. */
int fs_scratch_load(struct fs *fs, const char *coll, const char *name, char **buf, size_t *len);
/* Writes buf as scratch file name of coll, replacing it; removes it if the
 * bytes cannot all be written. */
int fs_scratch_store(struct fs *fs, const char *coll, const char *name, const char *buf,
                     size_t len);
/* Removes scratch file name of coll. */
int fs_scratch_unlink(struct fs *fs, const char *coll, const char *name);
/* Moves scratch file n1 of c1 to n2 of c2. */
int fs_scratch_rename(struct fs *fs, const char *c1, const char *n1, const char *c2,
                      const char *n2);
/* Makes name of coll a symbolic link to link. */
int fs_scratch_symlink(struct fs *fs, const char *link, const char *coll, const char *name);
/* Makes name of coll a node of mode. */
int fs_scratch_mknod(struct fs *fs, const char *coll, const char *name, mode_t mode);
/* The target of symbolic link n, NUL-terminated in buf. */
int fs_scratch_readlink(struct fs *fs, struct fs_node *n, char *buf, size_t size);

/* ---- dir.c ---- */

/* What kind name in parent p would be; 0 or an errno if it cannot exist. */
int fs_dir_kind(const struct fs_node *p, const char *name, enum fs_kind *kind);
/*
 * 0 if a file named name may be made in parent p; a name ending in .json that
 * cannot be a record (its id over 200 bytes, invalid UTF-8) is ENAMETOOLONG or
 * EILSEQ, logged, rather than a scratch file that silently never syncs.
 */
int fs_dir_new_name(const struct fs_node *p, const char *name);
/* Checks that a file named name may be made in parent p; sets its kind. */
int fs_dir_may_create(struct fs_node *p, const char *name, enum fs_kind *kind);
/* Fills e for name in parent and raises its lookup count. */
int fs_dir_lookup(struct fs *fs, fuse_ino_t parent, const char *name, struct fuse_entry_param *e);
/* Makes collection name (parent is the root); fills e. */
int fs_dir_mkdir(struct fs *fs, fuse_ino_t parent, const char *name, struct fuse_entry_param *e);
/* Removes collection name if it has no records or scratch files. */
int fs_dir_rmdir(struct fs *fs, fuse_ino_t parent, const char *name);
/* Removes record or scratch file name of parent. */
int fs_dir_unlink(struct fs *fs, fuse_ino_t parent, const char *name);
/* Makes scratch file name of parent a symbolic link to link; fills e. */
int fs_dir_symlink(struct fs *fs, const char *link, fuse_ino_t parent, const char *name,
                   struct fuse_entry_param *e);
/* Makes scratch file name of parent, a regular file of mode; fills e. */
int fs_dir_mknod(struct fs *fs, fuse_ino_t parent, const char *name, mode_t mode,
                 struct fuse_entry_param *e);
/* Opens directory ino: sets fi->fh to a new struct fs_dir. */
int fs_dir_open(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi);
/*
 * Fills *buf (malloc'd) with *used bytes of the entries of directory ino,
 * open as fi, from offset off; with plus (READDIRPLUS), each with its
 * attributes, counted as a lookup.  A failure after some entries still
 * returns them: the next readdir reports it.
 */
int fs_dir_read(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                size_t size, off_t off, int plus, char **buf, size_t *used);
/* Commits and syncs the journal, and the scratch files of collection ino. */
int fs_dir_fsync(struct fs *fs, fuse_ino_t ino);
/* Frees the open directory in fi. */
void fs_dir_release(struct fuse_file_info *fi);
/* Frees an open directory.  fs_dir_free(NULL) does nothing. */
void fs_dir_free(struct fs_dir *d);

/* ---- meta.c ---- */

/* The text of .blazefs file name, with a trailing newline (*text malloc'd). */
int fs_meta_text(struct fs *fs, const char *name, char **text, size_t *len);
/* 1 if name is a .blazefs file, else 0. */
int fs_meta_is_name(const char *name);
/* The name of .blazefs file i (in listing order), or NULL past the last. */
const char *fs_meta_name(size_t i);

/* ---- rename.c ---- */

/*
 * Renames name of parent to newname of newparent.  Sets *stale to an inode
 * whose kernel cache the caller must drop after replying, if any.
 */
int fs_rename(struct fs *fs, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
              const char *newname, unsigned int flags, fuse_ino_t *stale);

/* ---- pending.c ---- */

/* 1 if a delete of record id of coll is held back (it looks deleted). */
int fs_pending_is(struct fs *fs, const char *coll, const char *id);
/* Holds back a delete of record id of coll (stored: else an errno such as
 * ENOENT) for FS_GRACE_MS, recorded in the journal's metadata. */
int fs_pending_add(struct fs *fs, const char *coll, const char *id);
/*
 * Cancels the held delete of record id of coll, if any: 1 with *base (if
 * base is not NULL; malloc'd) the record's bytes at the delete, else 0.  A
 * re-create writes itself as an edit of that base.
 */
int fs_pending_take(struct fs *fs, const char *coll, const char *id, char **base, size_t *len);
/* Journals the held deletes whose grace has ended (all of them if all, or
 * all of collection coll's if coll is not NULL); the ms until the next one
 * falls due, or -1. */
int fs_pending_run(struct fs *fs, int all, const char *coll);
/* Journals the deletes a crash left held (after journal_recover). */
void fs_pending_recover(struct fs *fs);
/* Frees the held deletes (not journalled). */
void fs_pending_free(struct fs *fs);

/* ---- loop.c ---- */

/* The mount the request loop serves: its held deletes run from the loop. */
void fs_loop_attach(struct fs *fs);

/* ---- xattr.c ---- */

/* Sets *val (malloc'd, or NULL) to attribute name of n; ERANGE if size (0:
 * any) is too small for it. */
int fs_xattr_get(struct fs *fs, struct fs_node *n, const char *name, size_t size, char **val,
                 size_t *len);
/* Sets *val (malloc'd, or NULL) to the attribute names of n; ERANGE if size
 * (0: any) is too small for them. */
int fs_xattr_list(struct fs *fs, struct fs_node *n, size_t size, char **val, size_t *len);
/* Sets attribute name of n (a scratch file); ENOTSUP on anything else. */
int fs_xattr_set(struct fs *fs, struct fs_node *n, const char *name, const char *value, size_t size,
                 int flags);
/* Removes attribute name of n (a scratch file); ENOTSUP on anything else. */
int fs_xattr_remove(struct fs *fs, struct fs_node *n, const char *name);

#endif
