#!/bin/sh
# bmfleet OS probe: reads what the OS provider compares with a host's spec and prints ONE JSON
# document on stdout, in one round trip (`ssh host sh -s -- ARGS < probe.sh`).
#
# POSIX sh (dash, busybox ash, bash); needs head -c, sed, tr, grep, readlink (coreutils or busybox);
# uses `ip`, `sha256sum`, `grubby` and `systemctl` when present. It never starts Python tools.
# src/os/probe.rs parses the output and documents every field; the shapes it reads are those
# of a Debian 12 guest (kernel 6.1, iproute2 6.1, systemd 252, cloud-init 22.4).
#
# Arguments: `sysctl:KEY` (sysctl.d(5) syntax: net.ipv4.ip_forward) and `sysfs:/sys/PATH`;
# keys containing `..` are refused.
#
# BMFLEET_SYSROOT (default empty): a directory prepended to every /proc, /sys, /etc, /var, /run,
# /boot and /usr path read, so the same script runs against a fake tree (tests, simulator). In
# sysroot mode:
#   - `ip` is not run: the raw `ip -j -d link` and `ip -j addr` outputs are read from
#     $BMFLEET_SYSROOT/ip-link.json and $BMFLEET_SYSROOT/ip-addr.json, and those of
#     `ip -j -4 route show table all` and `ip -j -6 route show table all` from
#     $BMFLEET_SYSROOT/ip-route.json and $BMFLEET_SYSROOT/ip-route6.json (optional: a fixture
#     without them has no routes to compare);
#   - grubby and systemctl are not run;
#   - drivers are `driver` symlinks as in sysfs (the fixture links to its own
#     sys/bus/pci/drivers/NAME directory; only the link's basename is used);
#   - a service is active when `run/systemd/units/invocation:UNIT` exists (systemd writes it
#     while a unit is active, also on real hosts, where it is read the same way); a program is
#     installed when its file exists (usr/sbin/NetworkManager, usr/lib/systemd/systemd-networkd,
#     usr/sbin/ifup, usr/sbin/netplan, usr/bin/nmstatectl, usr/bin/cloud-init; also
#     /sbin, /bin, /lib): empty marker files in fixtures.
#
# Output rules:
#   - file contents are JSON strings, read up to a cap (values 4 KiB, texts 64 KiB, ip output
#     1 MiB); a longer file is truncated and reported in "errors" ("truncated at N bytes");
#   - "value" reads drop one trailing newline (sysfs, procfs, instance-id); "text" reads keep
#     the content exactly, except NUL bytes, which a shell string cannot hold (dropped); bytes
#     that are not UTF-8 are passed through and become U+FFFD on the Rust side;
#   - something that should be there but is missing or unreadable is null plus an entry
#     {"path", "reason"} in "errors" (paths without the sysroot prefix); optional things (no
#     cloud-init, no grub.d, no vfio-pci driver) are null or empty without an error;
#   - the script exits 0 unless the shell itself fails.
set -u
LC_ALL=C
export LC_ALL

R=${BMFLEET_SYSROOT:-}
R=${R%/}
VAL_CAP=4096
TEXT_CAP=65536
IP_CAP=1048576
NL='
'
ERRS=''

# sed program that JSON-escapes text (without the quotes): backslash, quote, control bytes.
JSON_SED=$(
	printf '%s\n' 's/\\/\\\\/g' 's/"/\\"/g'
	printf 's/\001/\\\\u0001/g\ns/\002/\\\\u0002/g\ns/\003/\\\\u0003/g\ns/\004/\\\\u0004/g\n'
	printf 's/\005/\\\\u0005/g\ns/\006/\\\\u0006/g\ns/\007/\\\\u0007/g\ns/\010/\\\\b/g\n'
	printf 's/\011/\\\\t/g\ns/\013/\\\\u000b/g\ns/\014/\\\\f/g\ns/\015/\\\\r/g\n'
	printf 's/\016/\\\\u000e/g\ns/\017/\\\\u000f/g\ns/\020/\\\\u0010/g\ns/\021/\\\\u0011/g\n'
	printf 's/\022/\\\\u0012/g\ns/\023/\\\\u0013/g\ns/\024/\\\\u0014/g\ns/\025/\\\\u0015/g\n'
	printf 's/\026/\\\\u0016/g\ns/\027/\\\\u0017/g\ns/\030/\\\\u0018/g\ns/\031/\\\\u0019/g\n'
	printf 's/\032/\\\\u001a/g\ns/\033/\\\\u001b/g\ns/\034/\\\\u001c/g\ns/\035/\\\\u001d/g\n'
	printf 's/\036/\\\\u001e/g\ns/\037/\\\\u001f/g\n'
)

# js STRING: print STRING as a JSON string. Plain strings are printed directly (no fork);
# others go through sed, which also turns newlines into \n.
js() {
	case $1 in
	*[!A-Za-z0-9_.,:/=+@%-]*)
		printf '"'
		printf '%s\n' "$1" | sed -e "$JSON_SED" -e '$!s/$/\\n/' | tr -d '\n'
		printf '"'
		;;
	*) printf '"%s"' "$1" ;;
	esac
}

# err PATH REASON: add an entry to "errors" (PATH without the sysroot prefix).
err() {
	ERRS="$ERRS${ERRS:+,}{\"path\":$(js "${1#"$R"}"),\"reason\":$(js "$2")}"
}

# rd PATH CAP: read at most CAP bytes of PATH into RD (RD_TRUNC=1 when the file is longer).
# Returns 1 when PATH does not exist, 2 when it cannot be read.
rd() {
	RD=''
	RD_TRUNC=0
	if [ ! -e "$1" ]; then
		return 1
	fi
	if [ -d "$1" ]; then
		return 2
	fi
	RD=$(head -c "$(($2 + 1))" "$1" 2>/dev/null && echo x) || {
		RD=''
		return 2
	}
	RD=${RD%x}
	if [ "${#RD}" -gt "$2" ]; then
		RD_TRUNC=1
		RD=${RD%?}
	fi
	return 0
}

# jfile PATH CAP value|text req|opt: print the file as a JSON string, or null (with an error
# when it is required or exists but cannot be read).
jfile() {
	if rd "$1" "$2"; then
		if [ "$RD_TRUNC" = 1 ]; then
			err "$1" "truncated at $2 bytes"
		fi
		if [ "$3" = value ]; then
			RD=${RD%"$NL"}
		fi
		js "$RD"
	else
		if [ $? = 2 ]; then
			err "$1" "unreadable"
		elif [ "$4" = req ]; then
			err "$1" "missing"
		fi
		printf null
	fi
}

# jcmd NAME CAP CMD...: run CMD and print its stdout as a JSON string, or null with an error.
jcmd() {
	jc_name=$1
	jc_cap=$2
	shift 2
	if RD=$("$@" 2>/dev/null && echo x); then
		RD=${RD%x}
		if [ "${#RD}" -gt "$jc_cap" ]; then
			err "$jc_name" "truncated at $jc_cap bytes"
			RD=$(printf '%s' "$RD" | head -c "$jc_cap")
		fi
		js "$RD"
	else
		err "$jc_name" "failed"
		printf null
	fi
}

# bool PATH: true when PATH exists (also as a dangling symlink).
bool() {
	if [ -e "$1" ] || [ -L "$1" ]; then printf true; else printf false; fi
}

# link_base PATH: print the basename of a symlink's target, or null.
link_base() {
	if [ -L "$1" ] && lb=$(readlink "$1" 2>/dev/null); then
		js "${lb##*/}"
	else
		printf null
	fi
}

# installed NAME: true when a program NAME exists in the usual directories.
installed() {
	for in_d in /usr/sbin /usr/bin /sbin /bin /usr/lib/systemd /lib/systemd; do
		if [ -f "$R$in_d/$1" ]; then
			printf true
			return 0
		fi
	done
	printf false
}

# active UNIT: "active"/"inactive" from /run/systemd/units, else `systemctl is-active` on a
# real host, else null.
active() {
	if [ -d "$R/run/systemd/units" ]; then
		if [ -e "$R/run/systemd/units/invocation:$1" ] || [ -L "$R/run/systemd/units/invocation:$1" ]; then
			printf '"active"'
		else
			printf '"inactive"'
		fi
	elif [ -z "$R" ] && command -v systemctl >/dev/null 2>&1; then
		ac=$(systemctl is-active "$1" 2>/dev/null)
		js "${ac:-unknown}"
	else
		printf null
	fi
}

printf '{"probe_version":1,"sysroot":'
if [ -n "$R" ]; then printf true; else printf false; fi

# The user the probe (and so the writes) run as; null in sysroot mode, where the tree belongs
# to whoever runs the tests.
printf ',"uid":'
u=''
if [ -z "$R" ]; then u=$(id -u 2>/dev/null || true); fi
case $u in '' | *[!0-9]*) printf null ;; *) printf '%s' "$u" ;; esac

# os-release(5): /etc/os-release, else /usr/lib/os-release.
printf ',"os_release":'
if [ -e "$R/etc/os-release" ] || [ ! -e "$R/usr/lib/os-release" ]; then
	jfile "$R/etc/os-release" "$TEXT_CAP" text req
else
	jfile "$R/usr/lib/os-release" "$TEXT_CAP" text req
fi

printf ',"cmdline":'
jfile "$R/proc/cmdline" "$TEXT_CAP" value req

# iproute2 JSON, as text (the Rust side parses it, so a truncated output spoils only this part).
printf ',"ip":'
if [ -n "$R" ]; then
	printf '{"link":'
	jfile "$R/ip-link.json" "$IP_CAP" text req
	printf ',"addr":'
	jfile "$R/ip-addr.json" "$IP_CAP" text req
	printf ',"route":'
	jfile "$R/ip-route.json" "$IP_CAP" text opt
	printf ',"route6":'
	jfile "$R/ip-route6.json" "$IP_CAP" text opt
	printf '}'
elif command -v ip >/dev/null 2>&1; then
	printf '{"link":'
	jcmd "ip -j -d link" "$IP_CAP" ip -j -d link show
	printf ',"addr":'
	jcmd "ip -j addr" "$IP_CAP" ip -j addr show
	printf ',"route":'
	jcmd "ip -j -4 route" "$IP_CAP" ip -j -4 route show table all
	printf ',"route6":'
	jcmd "ip -j -6 route" "$IP_CAP" ip -j -6 route show table all
	printf '}'
else
	err ip "command not found"
	printf null
fi

# Resolver configuration (resolv.conf(5)): /etc/resolv.conf, whether it is a symlink (and to
# what), and systemd-resolved's uplink file, which holds the servers in use when
# /etc/resolv.conf names only the stub 127.0.0.53.
printf ',"resolv":{"etc":'
jfile "$R/etc/resolv.conf" "$TEXT_CAP" text opt
printf ',"etc_link":'
if [ -L "$R/etc/resolv.conf" ] && rl=$(readlink "$R/etc/resolv.conf" 2>/dev/null); then
	js "$rl"
else
	printf null
fi
printf ',"resolved":'
jfile "$R/run/systemd/resolve/resolv.conf" "$TEXT_CAP" text opt
printf '}'

# SR-IOV physical functions (kernel Documentation/ABI/testing/sysfs-bus-pci).
printf ',"sriov":{'
c1=0
for n in "$R"/sys/class/net/*; do
	d=$n/device
	[ -e "$d/sriov_totalvfs" ] || continue
	[ $c1 = 1 ] && printf ','
	c1=1
	js "${n##*/}"
	printf ':{"pci":'
	link_base "$d"
	printf ',"driver":'
	link_base "$d/driver"
	for f in sriov_totalvfs sriov_numvfs sriov_drivers_autoprobe; do
		printf ',"%s":' "$f"
		jfile "$d/$f" "$VAL_CAP" value opt
	done
	printf ',"vfs":{'
	c2=0
	for v in "$d"/virtfn*; do
		[ -e "$v" ] || [ -L "$v" ] || continue
		[ $c2 = 1 ] && printf ','
		c2=1
		js "${v##*/virtfn}"
		printf ':{"pci":'
		link_base "$v"
		printf ',"driver":'
		link_base "$v/driver"
		printf ',"net":['
		c3=0
		for vn in "$v"/net/*; do
			[ -e "$vn" ] || continue
			[ $c3 = 1 ] && printf ','
			c3=1
			js "${vn##*/}"
		done
		printf ']}'
	done
	printf '}}'
done
printf '}'

# Devices bound to vfio-pci (null when the driver is not loaded).
printf ',"vfio_pci":'
if [ -d "$R/sys/bus/pci/drivers/vfio-pci" ]; then
	printf '['
	c1=0
	for v in "$R"/sys/bus/pci/drivers/vfio-pci/[0-9a-f]*:*; do
		[ -e "$v" ] || [ -L "$v" ] || continue
		[ $c1 = 1 ] && printf ','
		c1=1
		js "${v##*/}"
	done
	printf ']'
else
	printf null
fi

# Hugepages (kernel Documentation/admin-guide/mm/hugetlbpage.rst); `demote` is write-only and
# is never read.
printf ',"hugepages":'
if [ -d "$R/sys/kernel/mm/hugepages" ]; then
	printf '{'
	c1=0
	for h in "$R"/sys/kernel/mm/hugepages/hugepages-*kB; do
		[ -d "$h" ] || continue
		sz=${h##*/hugepages-}
		sz=${sz%kB}
		[ $c1 = 1 ] && printf ','
		c1=1
		js "$sz"
		printf ':{'
		c2=0
		for f in nr_hugepages free_hugepages resv_hugepages surplus_hugepages nr_overcommit_hugepages; do
			[ $c2 = 1 ] && printf ','
			c2=1
			printf '"%s":' "$f"
			jfile "$h/$f" "$VAL_CAP" value req
		done
		printf ',"nodes":{'
		c2=0
		for nd in "$R"/sys/devices/system/node/node[0-9]*; do
			p=$nd/hugepages/hugepages-${sz}kB
			[ -d "$p" ] || continue
			[ $c2 = 1 ] && printf ','
			c2=1
			js "${nd##*/node}"
			printf ':{'
			c3=0
			for f in nr_hugepages free_hugepages surplus_hugepages; do
				[ $c3 = 1 ] && printf ','
				c3=1
				printf '"%s":' "$f"
				jfile "$p/$f" "$VAL_CAP" value req
			done
			printf '}'
		done
		printf '}}'
	done
	printf '}'
else
	err "$R/sys/kernel/mm/hugepages" missing
	printf null
fi

printf ',"meminfo_hugepagesize":'
if rd "$R/proc/meminfo" "$TEXT_CAP"; then
	hs=$(printf '%s\n' "$RD" | sed -n 's/^Hugepagesize:[[:space:]]*\([0-9]*\) kB$/\1/p')
	if [ -n "$hs" ]; then js "$hs"; else printf null; fi
else
	err "$R/proc/meminfo" "missing"
	printf null
fi

# Configured boot arguments: /etc/default/grub, then /etc/default/grub.d/*.cfg in the order
# update-grub sources them; grubby's view of the default entry (BLS hosts) on real hosts.
printf ',"grub":['
c1=0
for g in "$R/etc/default/grub" "$R"/etc/default/grub.d/*.cfg; do
	[ -e "$g" ] || continue
	[ $c1 = 1 ] && printf ','
	c1=1
	printf '{"path":'
	js "${g#"$R"}"
	printf ',"text":'
	jfile "$g" "$TEXT_CAP" text req
	printf '}'
done
printf ']'

printf ',"grubby":'
if [ -z "$R" ] && command -v grubby >/dev/null 2>&1; then
	jcmd "grubby --info=DEFAULT" "$TEXT_CAP" grubby --info=DEFAULT
else
	printf null
fi

# sysctl and sysfs keys the spec names.
printf ',"sysctl":{'
c1=0
for a in "$@"; do
	case $a in sysctl:*) ;; *) continue ;; esac
	k=${a#sysctl:}
	case $k in
	'' | *..* | /*)
		err "$a" "refused key"
		continue
		;;
	esac
	# sysctl.d(5): when the first separator is a dot, dots and slashes swap.
	case ${k%%/*} in
	*.*) p=$(printf '%s' "$k" | tr './' '/.') ;;
	*) p=$k ;;
	esac
	[ $c1 = 1 ] && printf ','
	c1=1
	js "$k"
	printf ':'
	jfile "$R/proc/sys/$p" "$VAL_CAP" value req
done
printf '},"sysfs":{'
c1=0
for a in "$@"; do
	case $a in sysfs:*) ;; *) continue ;; esac
	k=${a#sysfs:}
	case $k in
	*..* | *"$NL"*)
		err "$a" "refused key"
		continue
		;;
	/sys/?*) ;;
	*)
		err "$a" "refused key (not under /sys/)"
		continue
		;;
	esac
	[ $c1 = 1 ] && printf ','
	c1=1
	js "$k"
	printf ':'
	jfile "$R$k" "$VAL_CAP" value req
done
printf '}'
for a in "$@"; do
	case $a in
	sysctl:* | sysfs:*) ;;
	*) err "$a" "unknown argument" ;;
	esac
done

# Which network stacks are installed and active, and their per-interface state files.
printf ',"net_stack":{"units_dir":'
bool "$R/run/systemd/units"
printf ',"NetworkManager":{"installed":'
installed NetworkManager
printf ',"active":'
active NetworkManager.service
printf '},"systemd-networkd":{"installed":'
installed systemd-networkd
printf ',"active":'
active systemd-networkd.service
printf '},"ifupdown":{"installed":'
installed ifup
printf ',"active":'
active networking.service
printf ',"interfaces_file":'
bool "$R/etc/network/interfaces"
# Whether interfaces(5) sources interfaces.d/* (where bmfleet writes ifupdown stanzas).
printf ',"interfaces_d_sourced":'
if [ -f "$R/etc/network/interfaces" ] &&
	grep -Eq '^[[:space:]]*source[[:space:]]+(/etc/network/)?interfaces\.d/\*[[:space:]]*$' "$R/etc/network/interfaces" 2>/dev/null; then
	printf true
else
	printf false
fi
printf '},"netplan":{"installed":'
installed netplan
printf ',"configs":['
c1=0
for f in "$R"/etc/netplan/*.yaml; do
	[ -e "$f" ] || continue
	[ $c1 = 1 ] && printf ','
	c1=1
	js "${f#"$R"}"
done
printf ']},"nmstate":{"installed":'
installed nmstatectl
printf '},"networkd_links":{'
c1=0
for f in "$R"/run/systemd/netif/links/*; do
	[ -f "$f" ] || continue
	[ $c1 = 1 ] && printf ','
	c1=1
	js "${f##*/}"
	printf ':'
	jfile "$f" "$VAL_CAP" text opt
done
printf '},"ifupdown_up":['
c1=0
for f in "$R"/run/network/ifstate.*; do
	[ -e "$f" ] || continue
	[ $c1 = 1 ] && printf ','
	c1=1
	js "${f##*/ifstate.}"
done
printf ']}'

# cloud-init (reads files: `cloud-init status` costs seconds of Python start-up).
printf ',"cloud_init":{"installed":'
installed cloud-init
printf ',"instance_id":'
jfile "$R/var/lib/cloud/data/instance-id" "$VAL_CAP" value opt
printf ',"disabled":'
bool "$R/run/cloud-init/disabled"
printf ',"status_json":'
bool "$R/run/cloud-init/status.json"
printf ',"digests":{'
c1=0
for f in /var/lib/cloud/instance/user-data.txt /var/lib/cloud/seed/nocloud/user-data \
	/var/lib/cloud/seed/nocloud/meta-data /var/lib/cloud/seed/nocloud/network-config; do
	[ -f "$R$f" ] || continue
	if ! command -v sha256sum >/dev/null 2>&1; then
		err sha256sum "command not found"
		break
	fi
	if sum=$(sha256sum 2>/dev/null <"$R$f"); then
		[ $c1 = 1 ] && printf ','
		c1=1
		js "$f"
		printf ':'
		js "${sum%% *}"
	else
		err "$R$f" "unreadable"
	fi
done
printf '}}'

printf ',"errors":[%s]}\n' "$ERRS"
exit 0
