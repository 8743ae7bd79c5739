#!/bin/sh
# k3s-pki installer: installs gen-custom-ca, rotate-default-ca, sa-key-rotate,
# ca-check, sign-csr and kubeconfig-user, or runs one of them once and leaves nothing behind.
#
#   curl -sfL <URL>/install.sh | sh -                              install
#   curl -sfL <URL>/install.sh | sh -s -- run gen-custom-ca [ARGS]  run once
#   sh install.sh mirror <MIRROR_URL> <DIR>                         copy the release
#       into DIR (a new directory), checked, with an install.sh whose default
#       download location is MIRROR_URL: serve DIR there (docs/install.md)
#
# Environment:
#   K3S_PKI_URL   where SHA256SUMS and the tarballs are (default: this release's
#                 download location, or the mirror's); file:///dir works with curl
#   INSTALL_DIR   where the tools go (default /usr/local/bin)
#   TMPDIR        where the download is unpacked (default /tmp); removed on exit
#   K3S_PKI_PUBLIC_KEY  an OpenSSH public key to verify SHA256SUMS.sig with
#                 instead of the release key below (a test build, a fork); said
#                 on stderr whenever it is used
# A run passes the caller's environment (DATA_DIR, PRODUCT, ...) to the tool and
# exits with the tool's exit code.
#
# SHA256SUMS is read strictly (one line per file, no duplicates); where
# ssh-keygen can verify signatures (OpenSSH 8.1+), its signature SHA256SUMS.sig
# is verified with the release key carried here, else stderr says the check is
# for integrity only. The tarball's SHA-256 is checked against SHA256SUMS before
# it is unpacked. What this proves: docs/install.md.
# POSIX sh: runs under dash and busybox ash, with curl or wget, and sha256sum,
# busybox sha256sum or openssl. scripts/release fills in the version, URL and key.
#
# Everything is inside main(), called on the last line: a shell reading this
# from a pipe runs nothing until it has read the whole script, so a cut-off
# download does nothing.

main() {
	set -eu
	version=@VERSION@
	# The default download location. scripts/release fills it in, and `mirror`
	# rewrites this one line, in this form, in the install.sh it copies.
	url=${K3S_PKI_URL:-@DOWNLOAD_URL@}
	url=${url%/}
	# The release signing key, scripts/release-key.pub in the repository.
	release_key='@RELEASE_KEY@'
	install_dir=${INSTALL_DIR:-/usr/local/bin}
	tools='gen-custom-ca rotate-default-ca sa-key-rotate ca-check sign-csr kubeconfig-user'
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
		*) fail "unknown tool '$(shown "$tool")': one of $tools" ;;
		esac
		;;
	mirror)
		[ $# -eq 3 ] || fail "mirror needs a URL and a new directory: mirror <MIRROR_URL> <DIR>"
		mode=mirror
		mirror_url=$(checked_mirror_url "$2") || exit 1
		mirror_dir=$3
		absent "$mirror_dir"
		;;
	*) fail "unknown command '$(shown "$1")': no arguments to install, run <tool> [ARGS], or mirror <MIRROR_URL> <DIR>" ;;
	esac

	if [ "$mode" != mirror ]; then
		# fail in a command substitution ends only the subshell: exit here too.
		arch=$(machine_arch) || exit 1
		name=k3s-pki-$version-linux-$arch
		tarball=$name.tar.gz
	fi
	fetcher=$(downloader) || exit 1
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/k3s-pki.XXXXXX" 2>/dev/null) ||
		fail "cannot create a temporary directory in ${TMPDIR:-/tmp}"
	sums=$scratch/SHA256SUMS
	fetch "$url/SHA256SUMS" "$sums"
	check_sums
	verify_signature
	if [ "$mode" = mirror ]; then
		make_mirror
		return 0
	fi

	expected=$(expected_sum "$tarball")
	[ -n "$expected" ] || fail "no $tarball in $url/SHA256SUMS: this release has no build for $arch"
	fetch "$url/$tarball" "$scratch/$tarball"
	check_download "$scratch/$tarball" "$tarball"
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
	check_targets
	# Stage every tool beside its target first (same file system), then rename:
	# each tool is replaced atomically, and a failure leaves nothing installed.
	stage=$(mktemp -d "$install_dir/.k3s-pki-install.XXXXXX" 2>/dev/null) ||
		fail "cannot write to $install_dir: run as root, or set INSTALL_DIR"
	for t in $tools; do
		try "cannot copy $t into $install_dir" cp "$scratch/$name/$t" "$stage/$t"
		try "cannot make $t executable" chmod 0755 "$stage/$t"
		runs "$stage/$t" || fail "$t does not run from $install_dir (mounted noexec?); nothing installed"
	done
	# Again, as close to the renames as a shell gets.
	check_targets
	for t in $tools; do
		# A symbolic link to a file is replaced by the tool: rename(2) replaces
		# the link itself. Writing through it would change a file elsewhere (a
		# package's binary, or whatever someone pointed the link at) that the
		# listing below would never show; INSTALL_DIR/<tool> is ours to replace.
		[ ! -L "$install_dir/$t" ] ||
			note "$install_dir/$t was a symbolic link: the link is replaced by the tool, the file it pointed to is left as it was"
		try "cannot move $t into place in $install_dir" mv -f "$stage/$t" "$install_dir/$t"
	done
	echo "k3s-pki $version ($arch), checked against SHA256SUMS, installed into $install_dir:"
	for t in $tools; do
		echo "  $("$install_dir/$t" --version)"
	done
}

# Refuses a target that is a directory, or a symbolic link to one (-d follows
# links): mv would put the tool inside it and report success.
check_targets() {
	for t in $tools; do
		[ ! -d "$install_dir/$t" ] ||
			fail "$install_dir/$t is a directory or a symbolic link to one, not a place for the $t executable: remove it or set INSTALL_DIR; nothing installed"
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

# What the installer checked and how, on stderr: stdout stays the tool's in a run.
note() {
	echo "k3s-pki install: $*" >&2
}

# A name given on the command line, as one line: control characters become '?'.
shown() {
	rest=$1
	out=
	while [ -n "$rest" ]; do
		tail=${rest#?}
		char=${rest%"$tail"}
		rest=$tail
		case $char in
		[[:print:]]) out=$out$char ;;
		*) out=$out'?' ;;
		esac
	done
	printf '%s' "$out"
}

# The release name of this machine's architecture.
machine_arch() {
	m=$(uname -m)
	case $m in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	armv7l) echo arm ;;
	*) fail "unsupported architecture '$(shown "$m")': releases exist for x86_64, aarch64 and armv7l" ;;
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

# fetch <url> <file> [why it is needed]: fails on any HTTP error.
fetch() {
	case $fetcher in
	curl) curl -sfL -o "$2" "$1" ;;
	wget) wget -q -O "$2" "$1" ;;
	esac || fail "cannot download $1${3:+: $3}"
}

# Refuses a SHA256SUMS that is not exactly what sha256sum writes for distinct
# release files: two lines for one file would leave the choice of checksum to
# whoever wrote the second. Sets $names, the files it lists.
check_sums() {
	# Its size first: the loop below reads it whole. A release's is 4 lines.
	size=$(($(wc -c <"$sums")))
	[ "$size" -le 16384 ] || fail "$url/SHA256SUMS is $size bytes, more than the 16384 a list of release files needs: refused"
	names=
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		sum=${line%% *}
		rest=${line#"$sum"}
		file=${rest#??}
		[ ${#sum} -eq 64 ] || malformed
		case $sum in
		*[!0-9a-f]*) malformed ;;
		esac
		# Two spaces (text mode) or a space and a star (binary mode).
		case ${rest%"$file"} in
		'  ' | ' *') ;;
		*) malformed ;;
		esac
		case $file in
		'' | [!A-Za-z0-9]* | *[!A-Za-z0-9._+-]*) malformed ;;
		esac
		case " $names " in
		*" $file "*) fail "$url/SHA256SUMS lists $file twice (again on line $n): refused" ;;
		esac
		names="$names $file"
	done <"$sums"
	[ "$n" -gt 0 ] || fail "$url/SHA256SUMS is empty"
}

malformed() {
	fail "line $n of $url/SHA256SUMS is not '<64 lowercase hex digits>  <file name>' as sha256sum writes it: refused"
}

# The checksum SHA256SUMS gives for a file name, after check_sums.
expected_sum() {
	while read -r sum file || [ -n "$sum" ]; do
		if [ "$file" = "$1" ] || [ "$file" = "*$1" ]; then
			echo "$sum"
			return 0
		fi
	done <"$sums"
}

# check_download <file> <name>: the file's SHA-256 is the one SHA256SUMS lists.
check_download() {
	want=$(expected_sum "$2")
	actual=$(sha256 "$1") || exit 1
	[ "$actual" = "$want" ] ||
		fail "checksum mismatch for $url/$2: SHA256SUMS says $want, the download is $actual; nothing installed"
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

# Verifies SHA256SUMS.sig with the release key, or the key K3S_PKI_PUBLIC_KEY
# holds, where ssh-keygen can; says on stderr which key, or that it could not.
# A signature that does not verify is refused; so is a missing one, once a
# verifier is here: deleting the signature must not be a way around it.
verify_signature() {
	key=$release_key
	whose='the release key'
	if [ -n "${K3S_PKI_PUBLIC_KEY-}" ]; then
		key=$K3S_PKI_PUBLIC_KEY
		whose='the K3S_PKI_PUBLIC_KEY key'
	fi
	if ! command -v ssh-keygen >/dev/null 2>&1; then
		note "no ssh-keygen here: SHA256SUMS checked for integrity only, its signature not verified (OpenSSH 8.1 or later verifies it)${K3S_PKI_PUBLIC_KEY:+; K3S_PKI_PUBLIC_KEY unused}"
		return 0
	fi
	if ! verifies_signatures; then
		note "this ssh-keygen predates OpenSSH 8.1 and cannot verify signatures: SHA256SUMS checked for integrity only"
		return 0
	fi
	# It becomes a line of an allowed-signers file: one line, nothing to quote.
	case $key in
	'' | *[!A-Za-z0-9+/=@.:_\ -]*) fail "$whose is not an OpenSSH public key on one line ('ssh-ed25519 AAAA... [comment]')" ;;
	esac
	printf '%s\n' "$key" >"$scratch/signing-key.pub"
	fingerprint=$(ssh-keygen -l -f "$scratch/signing-key.pub" 2>/dev/null) ||
		fail "$whose is not an OpenSSH public key ('ssh-ed25519 AAAA... [comment]')"
	fingerprint=${fingerprint#* }
	fingerprint=${fingerprint%% *}
	[ "$whose" = 'the release key' ] ||
		note "K3S_PKI_PUBLIC_KEY is set: verifying SHA256SUMS with that key, $fingerprint, not the release key this installer carries"
	fetch "$url/SHA256SUMS.sig" "$scratch/SHA256SUMS.sig" \
		"the signature of SHA256SUMS, required where ssh-keygen can verify it"
	printf 'release@k3s-pki namespaces="k3s-pki-release" %s\n' "$key" >"$scratch/allowed_signers"
	ssh-keygen -Y verify -f "$scratch/allowed_signers" -I release@k3s-pki -n k3s-pki-release \
		-s "$scratch/SHA256SUMS.sig" <"$sums" >/dev/null 2>&1 ||
		fail "$url/SHA256SUMS.sig is not a signature of SHA256SUMS by $whose, $fingerprint: refused, nothing installed"
	note "SHA256SUMS signature verified: signed by $whose, $fingerprint"
}

# Whether this ssh-keygen has -Y verify (OpenSSH 8.1+). Only getopt's answer to
# an unknown option counts as no: any other answer means the option exists, so
# a signature that fails is refused, never excused as unverifiable.
verifies_signatures() {
	probe=$(ssh-keygen -Y verify </dev/null 2>&1) || true
	case $probe in
	*"option -- "*Y*) return 1 ;;
	esac
}

# The mirror's URL, checked: it is written into the mirror's install.sh, so
# nothing in it may need quoting there.
checked_mirror_url() {
	case $1 in
	http://?* | https://?* | file:///*) ;;
	*) fail "mirror URL '$(shown "$1")' is not an http://, https:// or file:/// URL" ;;
	esac
	case $1 in
	*[!A-Za-z0-9._~:/%+,=@-]*)
		fail "mirror URL '$(shown "$1")' holds a character other than letters, digits and . _ ~ : / % + , = @ -"
		;;
	esac
	echo "${1%/}"
}

# absent <dir>: refuses a path that exists, a dangling symbolic link too.
absent() {
	[ ! -e "$1" ] && [ ! -L "$1" ] ||
		fail "$(shown "$1") already exists: mirror writes a new directory"
}

# Copies every file SHA256SUMS lists, each checked against it, with SHA256SUMS
# and its signature, into a new directory, the copy of install.sh downloading
# from the mirror by default. A shell script piped into sh cannot know where it
# came from, so the mirror's install.sh has to say it. Staged beside the
# directory and renamed into place at the end: a failure leaves nothing.
make_mirror() {
	case " $names " in
	*" install.sh "*) ;;
	*) fail "$url/SHA256SUMS lists no install.sh: a mirror needs one" ;;
	esac
	dir=$mirror_dir
	while [ "${dir%/}" != "$dir" ] && [ "$dir" != / ]; do dir=${dir%/}; done
	case $dir in
	*/*) parent=${dir%/*} ;;
	*) parent=. ;;
	esac
	stage=$(mktemp -d "${parent:-/}/.k3s-pki-mirror.XXXXXX" 2>/dev/null) ||
		fail "cannot create a directory beside $(shown "$mirror_dir")"
	[ -f "$scratch/SHA256SUMS.sig" ] || fetch "$url/SHA256SUMS.sig" "$scratch/SHA256SUMS.sig" \
		"a mirror serves the signature too"
	try "cannot copy SHA256SUMS" cp "$sums" "$scratch/SHA256SUMS.sig" "$stage/"
	for listed in $names; do
		fetch "$url/$listed" "$stage/$listed"
		check_download "$stage/$listed" "$listed"
	done
	# main's first url= line, as a basic regular expression.
	prefix='	url=\${K3S_PKI_URL:-'
	[ "$(grep -c "^$prefix" "$stage/install.sh")" = 1 ] ||
		fail "$url/install.sh has no default download location line to rewrite"
	sed "s|^\($prefix\).*}\$|\1$mirror_url}|" "$stage/install.sh" >"$scratch/install.sh"
	try "cannot write the mirror's install.sh" cp "$scratch/install.sh" "$stage/install.sh"
	try "cannot make the mirror readable" chmod -R a+rX "$stage"
	absent "$mirror_dir"
	try "cannot rename the mirror into place" mv "$stage" "$mirror_dir"
	stage=
	echo "k3s-pki: the release files from $url, checked against SHA256SUMS, copied into $(shown "$mirror_dir");"
	echo "its install.sh downloads from $mirror_url. Serve that directory there, then on each node:"
	echo "  curl -sfL $mirror_url/install.sh | sh -"
}

main "$@"
