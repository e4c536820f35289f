#!/bin/sh
# Prints the soname of pkg-config package PKG's library (libvirt -> libvirt.so.0): what the
# program dlopen()s, the version its headers describe. The library is looked up where the
# linker would find it: pkg-config's -L directories, then the compiler's own.
#   scripts/soname.sh PKG [CC]
set -eu
pkg=$1 cc=${2:-cc}
libs=$(pkg-config --libs-only-l "$pkg") || { echo "soname.sh: pkg-config does not know $pkg (install its -dev package)" >&2; exit 1; }
name=${libs%% *}
name=${name#-l}
file=
for dir in $(pkg-config --libs-only-L "$pkg" | sed 's/-L//g'); do
	[ -e "$dir/lib$name.so" ] && { file=$dir/lib$name.so; break; }
done
if [ -z "$file" ]; then
	file=$($cc -print-file-name="lib$name.so")
	[ -e "$file" ] || { echo "soname.sh: no lib$name.so for $pkg where the linker looks (install its -dev package)" >&2; exit 1; }
fi
soname=$(objdump -p "$file" 2>/dev/null | awk '$1 == "SONAME" { print $2 }')
[ -n "$soname" ] || { echo "soname.sh: $file has no SONAME" >&2; exit 1; }
echo "$soname"
