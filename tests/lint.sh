#!/bin/sh
# Static checks as tests: gcc already builds with -Werror; here clang, cppcheck and clang-tidy.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
. tests/lib/tap.sh
flags="-std=gnu11 $(pkg-config --cflags libvirt libxml-2.0 inih libudev)"
flags="$flags -DLIBVIRT_SONAME=\"$(scripts/soname.sh libvirt)\" -DLIBXML2_SONAME=\"$(scripts/soname.sh libxml-2.0)\""
out=$(mktemp)
trap 'rm -f "$out"' EXIT

if command -v clang >/dev/null; then
	# shellcheck disable=SC2086
	if clang $flags -Wall -Wextra -Werror -fsyntax-only hook/*.c >"$out" 2>&1; then ok "clang -Wall -Wextra -Werror"
	else not_ok "clang -Wall -Wextra -Werror" "$(cat "$out")"; fi
else skip "clang -Wall -Wextra -Werror" "clang not installed"; fi

if command -v cppcheck >/dev/null; then
	if cppcheck -q --std=c11 --enable=warning,style,performance,portability --error-exitcode=1 \
		--inline-suppr --suppress=missingIncludeSystem -Ihook hook/*.c tests/unit/*.c tests/lib/*.c >"$out" 2>&1
	then ok "cppcheck"; else not_ok "cppcheck" "$(cat "$out")"; fi
else skip "cppcheck" "cppcheck not installed"; fi

if command -v clang-tidy >/dev/null; then
	# shellcheck disable=SC2086
	# A file per call, on every core: clang-tidy is the slowest suite of make check otherwise.
	if printf '%s\n' hook/*.c | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} clang-tidy --quiet --warnings-as-errors='*' {} -- $flags >"$out" 2>&1
	then ok "clang-tidy"
	else not_ok "clang-tidy" "$(grep -E 'warning|error' "$out")"; fi
else skip "clang-tidy" "clang-tidy not installed"; fi

tap_done
