#!/bin/sh
# bmfleet network writer: carries out one `network-apply` step of a saved plan on a host, as
# the plan rendered it (files, activation, commit and revert commands). Sent on stdin
# (`ssh host sh -s -- MODE ARGS`); src/os/network/mod.rs drives it and documents the protocol.
#
# POSIX sh (dash, busybox ash, bash); needs mkdir, cp, mv, rm, cmp, find, sed, tr, cat.
#
# Modes (every value is an argument, never part of this text):
#   session
#       Prints `ssh ADDR` (the SSH server address of this session: $SSH_CONNECTION, or an
#       ancestor process's when sudo cleared it), then `link JSON` and `addr JSON` (`ip -j -d
#       link`, `ip -j addr`, on one line each).
#   apply ID GUARD TIMEOUT SELF_REVERTING NFILES [PATH MODE CONTENT]... NACT [ARGC ARGV...]...
#         NCOMMIT [ARGC ARGV...]... NREV [ARGC ARGV...]...
#       Writes each file whose content or mode differs (backup of the previous one first;
#       temporary file, chmod, rename; re-read with cmp), writes the revert script, arms it
#       when GUARD is 1 and the backend does not roll back by itself (systemd-run
#       --on-active, else a detached `sleep; sh revert`), runs the activation commands, and,
#       when GUARD is 0, the commit commands. When an activation command fails, the revert
#       runs at once.
#   commit ID NCOMMIT [ARGC ARGV...]...
#       Takes the step's lock (so a pending revert does nothing), runs the commit commands,
#       stops the revert timer (or the detached sleep) and removes the step's state.
#   finish ID
#       Runs the revert unless it already ran; says which.
#
# Output: lines `written PATH`, `unchanged PATH`, `armed HOW`, then `result WORD`
# (`ok`, `reverted`, `committed`, `too-late`, `reverted-earlier`, `failed`); after a failed
# command, `failed-command CMDLINE` and a line `stderr:` followed by its stderr.
#
# BMFLEET_SYSROOT (default empty): a directory prefixed to every path written, as for the
# probe. In sysroot mode no command is run: each one is appended, shell-quoted, to
# $BMFLEET_SYSROOT/run/bmfleet/commands.log; the SSH address is read from
# $BMFLEET_SYSROOT/run/bmfleet/ssh-connection (the $SSH_CONNECTION text) and the links from
# $BMFLEET_SYSROOT/ip-link.json and ip-addr.json.
set -u
LC_ALL=C
export LC_ALL
umask 022

R=${BMFLEET_SYSROOT:-}
R=${R%/}
LOG=$R/run/bmfleet/commands.log
NL='
'

die() {
	printf 'bmfleet network: %s\n' "$*" >&2
	exit 1
}

# q STRING: STRING quoted for sh (plain words as they are), as bmfleet's shell_quote does.
q() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=@%+,-]*)
		printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
		;;
	*) printf '%s' "$1" ;;
	esac
}

# runc ARGV...: run a command (stderr to $ERRF), or in sysroot mode log it.
runc() {
	if [ -n "$R" ]; then
		mkdir -p "${LOG%/*}" || return 1
		rc_line=''
		for rc_a in "$@"; do
			rc_line="$rc_line${rc_line:+ }$(q "$rc_a")"
		done
		printf '%s\n' "$rc_line" >>"$LOG"
		return 0
	fi
	"$@" 2>>"$ERRF"
}

# check_id ID: step ids are plain words.
check_id() {
	case $1 in
	'' | *[!A-Za-z0-9_.-]* | .*) die "invalid step id: $1" ;;
	esac
}

# read_cmds COUNT ARGS...: quoted command lines (one per line) into CMDS; USED = args eaten.
read_cmds() {
	rd_n=$1
	shift
	CMDS=''
	USED=1
	while [ "$rd_n" -gt 0 ]; do
		[ $# -ge 1 ] || die "missing command"
		rd_c=$1
		shift
		USED=$((USED + 1))
		case $rd_c in '' | *[!0-9]*) die "bad argument count: $rd_c" ;; esac
		[ $# -ge "$rd_c" ] || die "missing command arguments"
		rd_line=''
		while [ "$rd_c" -gt 0 ]; do
			rd_line="$rd_line${rd_line:+ }$(q "$1")"
			shift
			USED=$((USED + 1))
			rd_c=$((rd_c - 1))
		done
		CMDS="$CMDS$rd_line$NL"
		rd_n=$((rd_n - 1))
	done
}

# run_cmds LINES: run each quoted command line; on failure print it and return 1.
run_cmds() {
	rn_rest=$1
	while [ -n "$rn_rest" ]; do
		rn_line=${rn_rest%%"$NL"*}
		rn_rest=${rn_rest#*"$NL"}
		eval "runc $rn_line" || {
			printf 'failed-command %s\n' "$rn_line"
			return 1
		}
	done
	return 0
}

# show_stderr: the captured stderr, after a `stderr:` line.
show_stderr() {
	printf 'stderr:\n'
	if [ -s "$ERRF" ]; then head -c 4096 "$ERRF"; fi
}

# one_line FILE: FILE's JSON on one line (JSON strings hold no raw newlines).
one_line() {
	tr -d '\n' <"$1"
	printf '\n'
}

mode=${1:-}
[ $# -ge 1 ] && shift

ERRF=$(mktemp 2>/dev/null) || ERRF=/tmp/bmfleet-network-err.$$
trap 'rm -f "$ERRF"' EXIT

case $mode in
session)
	if [ -n "$R" ]; then
		sc=''
		if [ -f "$R/run/bmfleet/ssh-connection" ]; then
			sc=$(cat "$R/run/bmfleet/ssh-connection")
		fi
	else
		sc=${SSH_CONNECTION:-}
		if [ -z "$sc" ]; then
			# sudo clears the environment: take it from the nearest ancestor that has it.
			p=$$
			while [ -z "$sc" ] && [ "$p" -gt 1 ] 2>/dev/null; do
				p=$(sed -n 's/^[0-9]* (.*) [A-Za-z] \([0-9]*\) .*/\1/p' "/proc/$p/stat" 2>/dev/null)
				[ -n "$p" ] || break
				sc=$(tr '\000' '\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p')
			done
		fi
	fi
	# SSH_CONNECTION: client address, client port, server address, server port.
	set -f
	# shellcheck disable=SC2086 # split on purpose
	set -- $sc
	set +f
	printf 'ssh %s\n' "${3:-}"
	if [ -n "$R" ]; then
		if [ -f "$R/ip-link.json" ]; then printf 'link '; one_line "$R/ip-link.json"; fi
		if [ -f "$R/ip-addr.json" ]; then printf 'addr '; one_line "$R/ip-addr.json"; fi
	elif command -v ip >/dev/null 2>&1; then
		printf 'link %s\n' "$(ip -j -d link show 2>/dev/null | tr -d '\n')"
		printf 'addr %s\n' "$(ip -j addr show 2>/dev/null | tr -d '\n')"
	fi
	exit 0
	;;
apply)
	[ $# -ge 5 ] || die "usage: apply ID GUARD TIMEOUT SELF_REVERTING NFILES ..."
	id=$1
	guard=$2
	timeout=$3
	self_reverting=$4
	nfiles=$5
	shift 5
	check_id "$id"
	case $guard$self_reverting in [01][01]) ;; *) die "bad flags" ;; esac
	case $timeout in '' | *[!0-9]*) die "bad timeout: $timeout" ;; esac
	case $nfiles in '' | *[!0-9]*) die "bad file count: $nfiles" ;; esac
	D=$R/var/lib/bmfleet/network/$id
	rm -rf "$D"
	mkdir -p "$D/backup" || die "cannot create $D"
	chmod 700 "$R/var/lib/bmfleet/network" "$D" 2>/dev/null
	restore=''
	n=0
	while [ "$n" -lt "$nfiles" ]; do
		[ $# -ge 3 ] || die "missing file arguments"
		path=$1
		fmode=$2
		content=$3
		shift 3
		n=$((n + 1))
		case $path in
		/*) ;;
		*) die "not an absolute path: $path" ;;
		esac
		case $path in *..* | *"$NL"* | */) die "refused path: $path" ;; esac
		case $fmode in [0-7][0-7][0-7][0-7]) ;; *) die "bad mode for $path: $fmode" ;; esac
		t=$R$path
		if [ -f "$t" ] && [ ! -L "$t" ] && printf '%s' "$content" | cmp -s - "$t" &&
			[ -n "$(find "$t" -prune -perm "$fmode" 2>/dev/null)" ]; then
			printf 'unchanged %s\n' "$path"
			continue
		fi
		dir=${t%/*}
		mkdir -p "$dir" || die "cannot create ${dir#"$R"}"
		if [ -e "$t" ] || [ -L "$t" ]; then
			cp -p "$t" "$D/backup/$n" || die "cannot back up $path"
			restore="${restore}mv -f $(q "$D/backup/$n") $(q "$t")$NL"
		else
			restore="${restore}rm -f $(q "$t")$NL"
		fi
		tmp=$dir/.bmfleet-tmp.$$.${t##*/}
		(
			umask 077
			printf '%s' "$content" >"$tmp"
		) || die "cannot write $tmp"
		chmod "$fmode" "$tmp" || die "cannot chmod $tmp"
		mv -f "$tmp" "$t" || die "cannot rename $tmp to $path"
		printf '%s' "$content" | cmp -s - "$t" || die "$path does not read back as written"
		printf 'written %s\n' "$path"
	done
	[ $# -ge 1 ] || die "missing activation count"
	read_cmds "$@"
	act=$CMDS
	shift "$USED"
	[ $# -ge 1 ] || die "missing commit count"
	read_cmds "$@"
	commit=$CMDS
	shift "$USED"
	[ $# -ge 1 ] || die "missing revert count"
	read_cmds "$@"
	rev=$CMDS
	shift "$USED"
	[ $# -eq 0 ] || die "unexpected arguments: $*"

	# The revert: restore the previous files, then the revert commands (logged in sysroot
	# mode). It runs once: the lock directory is taken by whichever of revert and commit
	# comes first.
	{
		printf '#!/bin/sh\n# bmfleet: rolls back network step %s\n' "$id"
		printf 'mkdir %s 2>/dev/null || exit 0\n' "$(q "$D/lock")"
		printf '%s' "$restore"
		rest=$rev
		while [ -n "$rest" ]; do
			line=${rest%%"$NL"*}
			rest=${rest#*"$NL"}
			if [ -n "$R" ]; then
				printf 'mkdir -p %s\n' "$(q "${LOG%/*}")"
				printf 'printf %s %s >>%s\n' "'%s\n'" "$(q "$line")" "$(q "$LOG")"
			else
				printf '%s\n' "$line"
			fi
		done
		printf ': >%s\n' "$(q "$D/reverted")"
	} >"$D/revert.sh" || die "cannot write the revert script"

	armed=none
	if [ "$guard" = 1 ]; then
		if [ "$self_reverting" = 1 ]; then
			armed=checkpoint
		elif [ -n "$R" ]; then
			runc systemd-run --quiet "--unit=bmfleet-net-$id" "--on-active=${timeout}s" \
				--timer-property=AccuracySec=1s /bin/sh "${D#"$R"}/revert.sh"
			armed=systemd-run
		elif command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ] &&
			systemd-run --quiet "--unit=bmfleet-net-$id" "--on-active=${timeout}s" \
				--timer-property=AccuracySec=1s /bin/sh "$D/revert.sh" 2>>"$ERRF"; then
			armed=systemd-run
		else
			# shellcheck disable=SC2016 # expanded by the inner shell, from its arguments
			nohup sh -c 'sleep "$1"; exec sh "$2"' sh "$timeout" "$D/revert.sh" \
				</dev/null >/dev/null 2>&1 &
			echo "$!" >"$D/pid"
			armed='nohup'
		fi
	fi
	printf '%s\n' "$armed" >"$D/armed"
	printf 'armed %s\n' "$armed"

	if ! run_cmds "$act"; then
		sh "$D/revert.sh" 2>>"$ERRF"
		printf 'result reverted\n'
		show_stderr
		exit 0
	fi
	if [ "$guard" = 0 ]; then
		if ! run_cmds "$commit"; then
			printf 'result failed\n'
			show_stderr
			exit 0
		fi
		mkdir "$D/lock" 2>/dev/null
		rm -rf "$D"
	fi
	printf 'result ok\n'
	;;
commit)
	[ $# -ge 2 ] || die "usage: commit ID NCOMMIT ..."
	id=$1
	shift
	check_id "$id"
	D=$R/var/lib/bmfleet/network/$id
	read_cmds "$@"
	shift "$USED"
	if ! mkdir "$D/lock" 2>/dev/null; then
		printf 'result too-late\n'
		exit 0
	fi
	if ! run_cmds "$CMDS"; then
		printf 'result failed\n'
		show_stderr
		exit 0
	fi
	armed=$(cat "$D/armed" 2>/dev/null)
	case $armed in
	systemd-run)
		if [ -n "$R" ]; then
			runc systemctl stop "bmfleet-net-$id.timer"
		else
			systemctl stop "bmfleet-net-$id.timer" 2>/dev/null
		fi
		;;
	nohup) kill "$(cat "$D/pid")" 2>/dev/null ;;
	esac
	rm -rf "$D"
	printf 'result committed\n'
	;;
finish)
	[ $# -ge 1 ] || die "usage: finish ID"
	id=$1
	check_id "$id"
	D=$R/var/lib/bmfleet/network/$id
	[ -d "$D" ] || die "no state for step $id (committed, or never applied)"
	if [ -e "$D/reverted" ]; then
		printf 'result reverted-earlier\n'
		exit 0
	fi
	sh "$D/revert.sh" 2>>"$ERRF"
	if [ -e "$D/reverted" ]; then
		printf 'result reverted\n'
	else
		printf 'result failed\n'
		show_stderr
	fi
	;;
*)
	die "unknown mode: $mode"
	;;
esac
exit 0
