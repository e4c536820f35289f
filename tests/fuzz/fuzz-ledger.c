/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ownership ledger. Whatever ledger_parse accepts, ledger_format writes
 * something ledger_parse accepts again, and formatting that gives the same text: a record that
 * is read and written back (every claim, hand-over and release does so) loses nothing and
 * changes nothing, names with spaces or odd bytes included.
 */
#define _GNU_SOURCE
#include "ledger.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ledger first, second;
	char *text1, *text2;

	/* DATA is exactly SIZE bytes with no terminator: a parser that reads past LEN is caught. */
	if (ledger_parse((const char *)data, size, "fuzz.ledger", &first) < 0)
		return 0;
	text1 = ledger_format(&first);
	ledger_clear(&first);
	if (!text1)
		abort();
	if (ledger_parse(text1, strlen(text1), "fuzz.ledger(formatted)", &second) < 0) {
		fprintf(stderr, "fuzz-ledger: the formatted ledger does not parse:\n%s\n", text1);
		abort();
	}
	text2 = ledger_format(&second);
	ledger_clear(&second);
	if (!text2 || strcmp(text1, text2) != 0) {
		fprintf(stderr, "fuzz-ledger: formatting changes on a round trip:\n--- first\n%s\n--- second\n%s\n", text1,
			text2 ? text2 : "(null)");
		abort();
	}
	free(text1);
	free(text2);
	return 0;
}
