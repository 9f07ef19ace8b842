#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

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

int
fs_loop(struct fuse_session *se, struct journal *j)
{
	struct fuse_buf buf;
	struct loop_fail fail = {0, 0};
	struct pollfd p;
	int rc = 0, due, held;

	memset(&buf, 0, sizeof(buf));
	p.fd = fuse_session_fd(se);
	p.events = POLLIN;
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
		/* Sleep until a request comes or the batch falls due. */
		if ((rc = poll(&p, 1, due)) < 0) {
			if (errno != EINTR)
				break;
			rc = 0; /* a signal: the loop condition tells whether to stop */
			continue;
		}
		if (rc == 0)
			continue;
		rc = fuse_session_receive_buf(se, &buf);
		if (rc == -EINTR || rc == -EAGAIN) {
			rc = 0;
			continue;
		}
		if (rc <= 0) { /* 0: unmounted */
			if (rc < 0)
				errno = -rc;
			break;
		}
		fuse_session_process_buf(se, &buf);
		rc = 0;
	}
	free(buf.mem);
	if (loop_fs != NULL)
		fs_pending_run(loop_fs, 1, NULL); /* an unmount ends every grace */
	loop_flush(j, &fail);
	fuse_session_reset(se);
	return rc < 0 ? -1 : 0;
}
