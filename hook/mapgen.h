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
 * (size, mtime and inode of PATH, taken before the caller read it; size -1 when PATH did not
 * exist). 0 or -errno, the one line logged; PATH is left as it was on every failure.
 */
struct map_write {
	const char *path;
	const char *shown; /* PATH as the user named it, for the lines */
	const char *text;
	long long size;  /* of the file the text was made from; -1: there was none */
	long long mtime_ns;
	unsigned long long ino;
	int (*check)(const char *tmp, void *data);
	void *data;
};
int map_replace(const struct map_write *w);

/*
 * vfio-hook's own edits of the map at PATH, one at a time: an exclusive flock on PATH's
 * directory (which a rename over PATH does not replace, as it would a lock on PATH itself),
 * waited for up to MAP_LOCK_TIMEOUT_MS. Held from before the map is read until after it is
 * replaced, so a second run reads what the first wrote. The fd (closing it unlocks), or -errno
 * after one line naming SHOWN.
 */
#define MAP_LOCK_TIMEOUT_MS 10000
int map_lock(const char *path, const char *shown);

/* `vfio-hook map WHAT... [--add VM]` (mapgen.c): what each WHAT names, as ready [pci] sections. */
int action_map(const char *cfg_path, const char *const *what, size_t n_what, const char *add_vm);

#endif
