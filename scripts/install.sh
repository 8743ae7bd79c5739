#!/bin/sh
# k3s-pki installer: installs gen-custom-ca, rotate-default-ca, sa-key-rotate,
# ca-check and sign-csr, or runs one of them once and leaves nothing behind.
#
#   curl -sfL <URL>/install.sh | sh -                              install
#   curl -sfL <URL>/install.sh | sh -s -- run gen-custom-ca [ARGS]  run once
#
# Environment:
#   K3S_PKI_URL   where SHA256SUMS and the tarballs are (default: this release's
#                 download location); file:///dir works with curl
#   INSTALL_DIR   where the tools go (default /usr/local/bin)
#   TMPDIR        where the download is unpacked (default /tmp); removed on exit
# A run passes the caller's environment (DATA_DIR, PRODUCT, ...) to the tool and
# exits with the tool's exit code.
#
# The tarball's SHA-256 is checked against SHA256SUMS before it is unpacked.
# POSIX sh: runs under dash and busybox ash, with curl or wget, and sha256sum,
# busybox sha256sum or openssl. scripts/release fills in the version and URL.
#
# Everything is inside main(), called on the last line: a shell reading this
# from a pipe runs nothing until it has read the whole script, so a cut-off
# download does nothing.

main() {
	set -eu
	version=@VERSION@
	url=${K3S_PKI_URL:-@DOWNLOAD_URL@}
	url=${url%/}
	install_dir=${INSTALL_DIR:-/usr/local/bin}
	tools='gen-custom-ca rotate-default-ca sa-key-rotate ca-check sign-csr'
	# Removed on every exit; interrupts exit through the EXIT trap.
	scratch=
	stage=
	trap cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM

	case $version in
	*@*) fail "this is the template in scripts/; use the install.sh that scripts/release writes" ;;
	esac
	mode=install
	case ${1-} in
	'') ;;
	run)
		[ $# -ge 2 ] || fail "run needs a tool: run <tool> [ARGS], the tool one of: $tools"
		mode=run
		tool=$2
		shift 2
		case " $tools " in
		*" $tool "*) ;;
		*) fail "unknown tool '$tool': one of $tools" ;;
		esac
		;;
	*) fail "unknown command '$1': no arguments to install, or run <tool> [ARGS]" ;;
	esac

	# fail in a command substitution ends only the subshell: exit here too.
	arch=$(machine_arch) || exit 1
	name=k3s-pki-$version-linux-$arch
	tarball=$name.tar.gz
	fetcher=$(downloader) || exit 1

	scratch=$(mktemp -d "${TMPDIR:-/tmp}/k3s-pki.XXXXXX" 2>/dev/null) ||
		fail "cannot create a temporary directory in ${TMPDIR:-/tmp}"
	fetch "$fetcher" "$url/SHA256SUMS" "$scratch/SHA256SUMS"
	expected=$(expected_sum "$scratch/SHA256SUMS" "$tarball")
	[ -n "$expected" ] || fail "no $tarball in $url/SHA256SUMS: this release has no build for $arch"
	fetch "$fetcher" "$url/$tarball" "$scratch/$tarball"
	actual=$(sha256 "$scratch/$tarball") || exit 1
	[ "$actual" = "$expected" ] ||
		fail "checksum mismatch for $url/$tarball: SHA256SUMS says $expected, the download is $actual; nothing installed"
	try "cannot unpack $tarball" tar -xzf "$scratch/$tarball" -C "$scratch"
	for t in $tools; do
		[ -f "$scratch/$name/$t" ] || fail "$tarball does not hold $t"
	done

	if [ "$mode" = run ]; then
		runs "$scratch/$name/$tool" ||
			fail "$tool does not run from ${TMPDIR:-/tmp} (mounted noexec? set TMPDIR to another directory)"
		status=0
		"$scratch/$name/$tool" "$@" || status=$?
		exit "$status"
	fi
	install_tools
}

install_tools() {
	[ -d "$install_dir" ] || try "cannot create $install_dir" mkdir -p "$install_dir"
	# Stage every tool beside its target first (same file system), then rename:
	# each tool is replaced atomically, and a failure leaves nothing installed.
	stage=$(mktemp -d "$install_dir/.k3s-pki-install.XXXXXX" 2>/dev/null) ||
		fail "cannot write to $install_dir: run as root, or set INSTALL_DIR"
	for t in $tools; do
		try "cannot copy $t into $install_dir" cp "$scratch/$name/$t" "$stage/$t"
		try "cannot make $t executable" chmod 0755 "$stage/$t"
		runs "$stage/$t" || fail "$t does not run from $install_dir (mounted noexec?); nothing installed"
	done
	for t in $tools; do
		try "cannot move $t into place in $install_dir" mv -f "$stage/$t" "$install_dir/$t"
	done
	echo "k3s-pki $version ($arch), checked against SHA256SUMS, installed into $install_dir:"
	for t in $tools; do
		echo "  $("$install_dir/$t" --version)"
	done
}

# Whether a tool runs here at all: catches a noexec mount before anything changes.
runs() {
	"$1" --version >/dev/null 2>&1
}

# Removes the download and any staged copies; runs on every exit.
cleanup() {
	[ -z "$stage" ] || rm -rf "$stage"
	[ -z "$scratch" ] || rm -rf "$scratch"
}

# try <what failed> <command...>: runs the command; on failure one line, ours,
# with the command's reason (the last part of its message).
try() {
	what=$1
	shift
	err=$("$@" 2>&1 >/dev/null) || fail "$what: ${err##*: }"
}

fail() {
	echo "k3s-pki install: error: $*" >&2
	exit 1
}

# The release name of this machine's architecture.
machine_arch() {
	m=$(uname -m)
	case $m in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	armv7l) echo arm ;;
	*) fail "unsupported architecture '$m': releases exist for x86_64, aarch64 and armv7l" ;;
	esac
}

downloader() {
	if command -v curl >/dev/null 2>&1; then
		echo curl
	elif command -v wget >/dev/null 2>&1; then
		echo wget
	else
		fail "neither curl nor wget found: install one of them"
	fi
}

# fetch <curl|wget> <url> <file>: fails on any HTTP error.
fetch() {
	case $1 in
	curl) curl -sfL -o "$3" "$2" ;;
	wget) wget -q -O "$3" "$2" ;;
	esac || fail "cannot download $2"
}

# The checksum SHA256SUMS gives for a file name (sha256sum's text or binary lines).
expected_sum() {
	while read -r sum file || [ -n "$sum" ]; do
		if [ "$file" = "$2" ] || [ "$file" = "*$2" ]; then
			echo "$sum"
			return 0
		fi
	done <"$1"
}

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		out=$(sha256sum "$1")
	elif command -v openssl >/dev/null 2>&1; then
		out=$(openssl dgst -sha256 -r "$1")
	else
		fail "no sha256sum or openssl to check the download with"
	fi
	echo "${out%% *}"
}

main "$@"
