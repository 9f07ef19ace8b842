/*
 * fuzz_db: a throwaway journal for the fuzz targets that need one, in a
 * fresh directory under /tmp that is removed when libFuzzer exits.
 */
#ifndef BLAZEFS_FUZZ_DB_H
#define BLAZEFS_FUZZ_DB_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/journal.h"

static struct journal *fuzz_db_j;
static char fuzz_db_dir[] = "/tmp/blazefs-fuzz-XXXXXX";

static void
fuzz_db_cleanup(void)
{
	static const char *files[] = {"data.mdb", "data.mdb-lock", "wal"};
	char path[sizeof(fuzz_db_dir) + 16];

	journal_close(fuzz_db_j);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fuzz_db_dir, files[i]);
		unlink(path);
	}
	rmdir(fuzz_db_dir);
}

/* The journal of device self (made at the first call; aborts on failure). */
static struct journal *
fuzz_db_open(uint64_t self, const uint8_t dbid[32])
{
	if (fuzz_db_j == NULL) {
		if (mkdtemp(fuzz_db_dir) == NULL || journal_create(fuzz_db_dir, self, dbid) != 0 ||
		    (fuzz_db_j = journal_open(fuzz_db_dir, JOURNAL_NOSYNC)) == NULL)
			abort();
		atexit(fuzz_db_cleanup);
	}
	return fuzz_db_j;
}

#endif
