/*
 * fs: the FUSE low-level operations of a mounted database (DESIGN §1, §7).
 *
 * The root holds one directory per collection and the read-only `.blazefs/`
 * directory (status, conflicts, errors).  A collection holds its records as
 * `<id>.json` files and scratch files: any other name, kept as a real file in
 * DB/scratch/<collection>/ on this device only.  A record is read into one
 * buffer per inode when first opened; a dirty buffer becomes one change when
 * a handle is flushed (close) or fsync'ed.  fs/ knows nothing of the network:
 * remote changes reach it through the journal's observer, and the state of
 * the peers through the status source its owner sets (fs_set_status_source).
 *
 * The loop may be single-threaded; only the inode table is shared with the
 * observer, which may run on another thread.  This header is the module's
 * API; fs/fs_int.h says which file of fs/ owns what.
 */
#ifndef BLAZEFS_FS_H
#define BLAZEFS_FS_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <jansson.h>

struct fs;
struct journal;

/* The operations table for fuse_session_new, with a struct fs as userdata. */
extern const struct fuse_lowlevel_ops fs_ops;

/* Creates the state for the database in directory db (an absolute path).
 * Returns NULL with errno on failure. */
struct fs *fs_new(const char *db);

/*
 * Attaches the opened journal j (still owned by the caller) and the session;
 * registers the journal observer.  Call before fuse_session_loop.  Returns 0,
 * or -1 with errno if the scratch directory cannot be opened.
 */
int fs_attach(struct fs *fs, struct journal *j, struct fuse_session *se);

/*
 * Reports the state of the network: returns a new reference to a JSON object
 * shaped as DB/peers.json is ({"peers": [...], "pending": N, ...}), which the
 * caller json_decref's, or NULL if there is no network (yet).  Called on the
 * FUSE thread whenever .blazefs/peers or .blazefs/status is read.
 */
typedef json_t *fs_status_fn(void *ctx);

/*
 * Makes fn(ctx) the source of .blazefs/peers and .blazefs/status (NULL: no
 * network).  ctx stays the caller's; call before fuse_session_loop, and keep
 * both valid until fs_free.
 */
void fs_set_status_source(struct fs *fs, fs_status_fn *fn, void *ctx);

/* Frees fs, not the journal (whose observer the caller unsets first).
 * fs_free(NULL) does nothing. */
void fs_free(struct fs *fs);

/* Logs one line to syslog (and stderr in the foreground). */
void fs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
