/* SPDX-License-Identifier: MIT */
/*
 * Runs a fuzz target once on every file of its seed corpus and regressions (FUZZ_DIR, compiled
 * in), without libFuzzer: so `make check` replays them with gcc, plain and under ASan+UBSan,
 * and a crash fixed once stays fixed. TAP: one line per file; a crash aborts before "ok".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char **files;
static size_t n_files;

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char **grown;

	(void)st;
	if (type != FTW_F || path[ftw->base] == '.')
		return 0;
	grown = realloc(files, (n_files + 1) * sizeof(*files));
	if (!grown || !(grown[n_files] = strdup(path)))
		abort();
	files = grown;
	n_files++;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Exactly the file's bytes in a buffer of that size, as libFuzzer passes them. */
static uint8_t *slurp(const char *path, size_t *ret_size)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *buf = NULL;
	size_t size = 0, r;
	uint8_t chunk[4096];

	if (!f)
		return NULL;
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		uint8_t *grown = realloc(buf, size + r);

		if (!grown)
			abort();
		buf = grown;
		memcpy(buf + size, chunk, r);
		size += r;
	}
	fclose(f);
	*ret_size = size;
	return buf ? buf : malloc(1);
}

int main(void)
{
	if (nftw(FUZZ_DIR, collect, 16, FTW_PHYS) < 0 && errno != ENOENT) {
		printf("1..1\nnot ok 1 - cannot read %s: %s\n", FUZZ_DIR, strerror(errno));
		return 1;
	}
	if (n_files == 0) {
		printf("1..0 # SKIP no seeds yet in %s\n", FUZZ_DIR);
		return 0;
	}
	qsort(files, n_files, sizeof(*files), cmp);
	printf("1..%zu\n", n_files);
	for (size_t i = 0; i < n_files; i++) {
		size_t size = 0;
		uint8_t *data = slurp(files[i], &size);

		if (data) {
			fflush(stdout);
			LLVMFuzzerTestOneInput(data, size);
			printf("ok %zu - %s\n", i + 1, files[i]);
		} else {
			printf("not ok %zu - %s: %s\n", i + 1, files[i], strerror(errno));
		}
		free(data);
		free(files[i]);
	}
	free(files);
	return 0;
}
