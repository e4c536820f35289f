/* SPDX-License-Identifier: MIT */
#ifndef VH_MAPGEN_H
#define VH_MAPGEN_H

#include <stddef.h>

/*
 * Writing the map in place (mapedit.c): the file's own text, lines added, checked by the real
 * parser in a temporary file beside it, then renamed over it; never a broken map.
 */

/* TEXT with INSERT put after line LINE (1-based; 0: at the start). Line ends stay as they were. */
char *map_text_insert(const char *text, int line, const char *insert);
/* "\r\n" when TEXT ends its lines so (a map saved on Windows), else "\n". */
const char *map_text_eol(const char *text);
/* LINES (ended by "\n") with each line end made EOL. */
char *map_text_with_eol(const char *lines, const char *eol);

/*
 * Replaces the file PATH with TEXT: written to a temporary file in its directory (same mode and
 * owner as PATH, 0644 for a new one), CHECK(TMP, DATA) run on it (0, or -errno after logging
 * why, its lines naming PATH), then renamed over PATH, unless PATH changed since it was read
 * (ST_SIZE/ST_MTIME of the text the caller read; -1 when PATH did not exist). 0 or -errno, the
 * one line logged; PATH is left as it was on every failure.
 */
struct map_write {
	const char *path;
	const char *shown; /* PATH as the user named it, for the lines */
	const char *text;
	long long size;  /* of the file the text was made from; -1: there was none */
	long long mtime_ns;
	int (*check)(const char *tmp, void *data);
	void *data;
};
int map_replace(const struct map_write *w);

/* `vfio-hook map WHAT... [--add VM]` (mapgen.c): what each WHAT names, as ready [pci] sections. */
int action_map(const char *cfg_path, const char *const *what, size_t n_what, const char *add_vm);

#endif
