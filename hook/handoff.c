/* SPDX-License-Identifier: MIT */
/* The hand-over's steps as the ledger names them, and what each may name (handoff.h). */
#include "handoff.h"

#include "ledger.h"
#include "util.h"

#include <ctype.h>
#include <string.h>

static const char *const step_names[DSTEP_N] = { "display-manager", "wait", "nvidia-persistenced", "vtcon",
						   "framebuffer", "module" };

const char *display_step_name(enum display_step s)
{
	return s < DSTEP_N ? step_names[s] : "?";
}

enum display_step display_step_parse(const char *name)
{
	int k;

	for (k = 0; k < DSTEP_N && !streq(name, step_names[k]); k++)
		;
	return (enum display_step)k;
}

static bool chars_in(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

bool display_what_valid(enum display_step step, const char *s)
{
	switch (step) {
	case DSTEP_DM:
	case DSTEP_PERSISTENCED:
		/* A unit name, never an option: systemctl gets it as an argument. */
		return *s != '-' && chars_in(s, 255, "@_.:-\\");
	case DSTEP_WAIT:
		return streq(s, "-");
	case DSTEP_VTCON:
		return startswith(s, "vtcon") && chars_in(s + 5, 8, "") && strspn(s + 5, "0123456789") == strlen(s + 5);
	case DSTEP_FB:
		return *s != '.' && chars_in(s, 63, "_.:-");
	case DSTEP_MODULE:
		/* vfio's own modules are never ours to unload. */
		return *s != '-' && driver_name_valid(s) && !startswith(s, "vfio");
	case DSTEP_N:
		break;
	}
	return false;
}

