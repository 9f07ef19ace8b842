/* Shared helpers for the core unit tests (cmocka). */
#ifndef BLAZEFS_CORE_TEST_H
#define BLAZEFS_CORE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A fresh temporary directory (malloc'd path). */
static inline char *
test_tmpdir(void)
{
	char *d = strdup("/tmp/blazefs-test-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

/* Removes a directory tree made by test_tmpdir and frees the path. */
static inline void
test_rmdir(char *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(d);
}

#endif
