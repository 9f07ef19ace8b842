/*
 * loop: the single-threaded FUSE request loop of a mount (it spins briefly
 * between requests rather than sleep: loop.c).  Besides serving
 * requests, it commits the journal's batch of local writes on time
 * (journal_batch_due / journal_flush), which is what lets one fdatasync
 * cover many closes while every close stays crash-safe (DESIGN §3).
 */
#ifndef BLAZEFS_LOOP_H
#define BLAZEFS_LOOP_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

struct journal;

/*
 * Serves se until it is unmounted or a signal handler ends it, flushing j's
 * batch whenever it falls due and once more at the end.  Returns 0, or -1
 * with errno on a failure to read from /dev/fuse.
 */
int fs_loop(struct fuse_session *se, struct journal *j);

#endif
