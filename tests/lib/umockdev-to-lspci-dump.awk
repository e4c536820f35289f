# Turns a umockdev fixture into an `lspci -A dump` file (the `lspci -x` format), so the real
# lspci can read the same config space as vfio-hook does.
/^P: / { n = split($2, parts, "/"); addr = parts[n] }
/^H: config=/ {
	hex = substr($0, 11)
	printf "%s\n", addr " dump"
	for (off = 0; off < length(hex) / 2; off += 16) {
		printf "%02x:", off
		for (i = 0; i < 16; i++)
			printf " %s", tolower(substr(hex, (off + i) * 2 + 1, 2))
		printf "\n"
	}
	printf "\n"
}
