#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "core/journal.h"
#include "fs/fs.h"
#include "fs/loop.h"

/* Commits the batch; a failure leaves the writes in the wal for the next open. */
static void
loop_flush(struct journal *j)
{
	if (journal_flush(j))
		fs_log("committing the journal failed: %s", strerror(errno));
}

int
fs_loop(struct fuse_session *se, struct journal *j)
{
	struct fuse_buf buf;
	struct pollfd p;
	int rc = 0, due;

	memset(&buf, 0, sizeof(buf));
	p.fd = fuse_session_fd(se);
	p.events = POLLIN;
	while (!fuse_session_exited(se)) {
		if ((due = journal_batch_due(j)) == 0) {
			loop_flush(j);
			continue;
		}
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
	loop_flush(j);
	fuse_session_reset(se);
	return rc < 0 ? -1 : 0;
}
