/* SPDX-License-Identifier: MIT */
#ifndef VH_CONFIG_PARSER_H
#define VH_CONFIG_PARSER_H

#include "config.h"

#include <stdio.h>

/*
 * The map's parser, shared by config.c (the file, its sections, what is checked once it is all
 * read) and config-keys.c (what each key means).
 */

enum section_kind { SEC_NONE, SEC_OPTIONS, SEC_HOST, SEC_PCI, SEC_USB, SEC_VM };

struct parser {
	struct config *c;
	FILE *f;
	int line;           /* line the reader is on */
	bool line_done;     /* the last chunk read ended a line */
	size_t line_len;    /* bytes of that line read so far */
	int header_line;    /* line of the last [section] header */
	char *header;       /* what that header names, as inih takes it */
	char *err;          /* first mistake, reported once */
	int err_line;
	char *section;      /* raw name of the section being filled */
	int section_line;   /* the header line it began at */
	enum section_kind kind;
	size_t idx;         /* index of that section in its array */
	int opt_lines[4];   /* where each option was set, to catch repeats */
	int options_line;   /* where [options] began */
};


/* Records the first mistake, as "what (how to fix it)" at LINE; returns 0, which stops inih. */
int config_fail(struct parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* KEY = VALUE in the section being read; 1, or 0 after config_fail() (config-keys.c). */
int config_key_option(struct parser *p, const char *key, const char *value); /* [options] */
int config_key_host(struct parser *p, const char *key, const char *value);   /* [host] */
int config_key_device(struct parser *p, const char *key, const char *value); /* [pci NAME], [usb NAME] */
int config_key_vm(struct parser *p, const char *key, const char *value);     /* [vm NAME] */

#endif
