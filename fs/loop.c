#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hlc.h"
#include "core/journal.h"
#include "fs/fs.h"
#include "fs/fs_int.h"
#include "fs/loop.h"

/* The mount served (one per process, as the journal is: DESIGN §3). */
static struct fs *loop_fs;

void
fs_loop_attach(struct fs *fs)
{
	loop_fs = fs;
}

/* Commits the batch; a failure leaves the writes in the wal (readable, and
 * committed by a later attempt or the next open).  A full disk fails every
 * attempt until space returns: logged once, and once when it passes. */
struct loop_fail {
	int err;       /* the errno of the failures in a row, or 0 */
	long attempts; /* failed in a row */
};

static void
loop_flush(struct journal *j, struct loop_fail *f)
{
	if (journal_flush(j) == 0) {
		if (f->err)
			fs_log("the journal commits again, after %ld failed attempts", f->attempts);
		f->err = 0;
		f->attempts = 0;
		return;
	}
	f->attempts++;
	if (errno != f->err)
		fs_log("committing the journal failed: %s (the writes stay readable; retrying)",
		       strerror(errno));
	f->err = errno;
}

/*
 * After each request the loop keeps asking /dev/fuse for the next one,
 * without sleeping, for SPIN_US.  A tool saving a file sends its requests one
 * after another (LOOKUP, CREATE, WRITE, FLUSH, ...), each a few µs after the
 * last reply; a loop that sleeps between them is woken for each, and the
 * scheduler keeps a lone sleeping thread on the other, idle CPU, so every
 * request paid a cross-CPU wake-up (≈ 35 µs against ≈ 5 µs on one CPU): a save
 * cost 2-3x a multi-threaded passthrough's, whose many threads often wake where
 * the tool runs.  Spinning costs at most SPIN_US of CPU after the last request
 * of a burst (an idle mount never spins) and yields the CPU to anything else
 * runnable on each turn.  20 µs was too short to catch a tool's next request.
 */
#define SPIN_US 100

int
fs_loop(struct fuse_session *se, struct journal *j)
{
	struct fuse_buf buf;
	struct loop_fail fail = {0, 0};
	struct pollfd p;
	uint64_t last = 0; /* µs: the last request served */
	int rc = 0, due, held, fl, err = 0;

	memset(&buf, 0, sizeof(buf));
	p.fd = fuse_session_fd(se);
	p.events = POLLIN;
	/* Reads that find no request return EAGAIN: the loop spins or polls. */
	if ((fl = fcntl(p.fd, F_GETFL)) < 0 || fcntl(p.fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	if (loop_fs != NULL)
		fs_pending_recover(loop_fs);
	while (!fuse_session_exited(se)) {
		/* Held deletes whose grace ended are journalled now, into the
		 * batch whose due time comes next. */
		held = loop_fs != NULL ? fs_pending_run(loop_fs, 0, NULL) : -1;
		if ((due = journal_batch_due(j)) == 0) {
			loop_flush(j, &fail);
			continue;
		}
		if (held >= 0 && (due < 0 || held < due))
			due = held;
		rc = fuse_session_receive_buf(se, &buf);
		if (rc > 0) {
			fuse_session_process_buf(se, &buf);
			journal_trim(j); /* what a listing mapped */
			last = hlc_mono_us();
			rc = 0;
			continue;
		}
		if (rc == 0 || (rc != -EAGAIN && rc != -EINTR)) { /* 0: unmounted */
			err = -rc;
			break;
		}
		rc = 0;
		if (hlc_mono_us() - last < SPIN_US) {
			sched_yield();
			continue;
		}
		/* Sleep until a request comes or the batch falls due. */
		if (poll(&p, 1, due) < 0 && errno != EINTR) {
			rc = -1;
			err = errno;
			break; /* (a signal: the loop condition tells whether to stop) */
		}
	}
	free(buf.mem);
	if (loop_fs != NULL)
		fs_pending_run(loop_fs, 1, NULL); /* an unmount ends every grace */
	loop_flush(j, &fail);
	fuse_session_reset(se);
	if (rc < 0) {
		errno = err; /* what failed, not what the last flush left */
		return -1;
	}
	return 0;
}
