#!/bin/sh
# bmfleet OS writer: the functions every OS step's script is made of. src/os/write/mod.rs
# sends this file followed by the calls of one step (their arguments single-quoted, file
# contents as base64 here-documents) in one round trip (`ssh host sh -s < script`).
#
# POSIX sh (dash, busybox ash, bash); needs base64, cmp, awk, mkdir, mv, chmod (coreutils,
# diffutils or busybox). Writes only what the step's op names.
#
# Exit status: 0 done (stdout: one line per thing done: `wrote PATH`, `unchanged PATH`,
# `set PATH VALUE`, `ran COMMAND`); 3 refused before anything was changed; 4 failed after
# something may have changed. The reason is the last stderr line, prefixed `bmfleet: `.
#
# BMFLEET_SYSROOT (default empty): a directory prepended to every path, for tests and the
# simulator. In sysroot mode commands are not run but recorded, one per line, in
# $BMFLEET_SYSROOT/run/bmfleet/commands.log, and kernel files behave as a kernel's would in the
# two ways the tests need: a non-zero to non-zero write to `sriov_numvfs` fails (EBUSY), and a
# write of N to a file F is capped at the number in $BMFLEET_SYSROOT/.kernel-max/F when that
# exists (a hugepage pool that memory fragmentation keeps short).
set -u
LC_ALL=C
export LC_ALL
umask 022

R=${BMFLEET_SYSROOT:-}
R=${R%/}
CHANGED=0

refuse() {
	printf 'bmfleet: %s\n' "$*" >&2
	if [ "$CHANGED" = 0 ]; then exit 3; fi
	exit 4
}

die() {
	printf 'bmfleet: %s\n' "$*" >&2
	exit 4
}

# run COMMAND ARGS...: runs a command (its stderr is kept for the error), or records it in
# sysroot mode.
run() {
	if [ -n "$R" ]; then
		mkdir -p "$R/run/bmfleet" || die "cannot record a command under $R/run/bmfleet"
		printf '%s\n' "$*" >>"$R/run/bmfleet/commands.log" || die "cannot record a command"
	else
		CHANGED=1
		"$@" || die "\`$*\` failed with status $?"
	fi
	printf 'ran %s\n' "$*"
}

# has COMMAND: whether COMMAND is installed (in sysroot mode: a marker file under usr/sbin,
# usr/bin, sbin or bin).
has() {
	if [ -n "$R" ]; then
		for d in usr/sbin usr/bin sbin bin; do
			[ -e "$R/$d/$1" ] && return 0
		done
		return 1
	fi
	command -v "$1" >/dev/null 2>&1
}

# put PATH MODE: writes the base64 text on stdin to PATH with MODE, atomically (a temporary
# file in the same directory, then a rename); leaves a file that already holds it alone.
put() {
	f="$R$1"
	d=${f%/*}
	mkdir -p "$d" || refuse "cannot create the directory of $1"
	tmp="$f.bmfleet-new"
	base64 -d >"$tmp" || {
		rm -f "$tmp"
		refuse "cannot write $1"
	}
	if [ -f "$f" ] && cmp -s "$tmp" "$f"; then
		rm -f "$tmp"
		chmod "$2" "$f" || refuse "cannot set the mode of $1"
		printf 'unchanged %s\n' "$1"
		return 0
	fi
	chmod "$2" "$tmp" || refuse "cannot set the mode of $1"
	CHANGED=1
	mv -f "$tmp" "$f" || die "cannot rename the new $1 into place"
	printf 'wrote %s\n' "$1"
}

# kwrite PATH VALUE: writes VALUE to a kernel file (procfs, sysfs) that must exist.
kwrite() {
	case $1 in
	*..* | *//*) refuse "refusing to write $1: a kernel path must not hold .. or //" ;;
	/proc/sys/* | /sys/*) ;;
	*) refuse "refusing to write $1: kernel values are written under /proc/sys and /sys only" ;;
	esac
	f="$R$1"
	[ -e "$f" ] || refuse "$1 does not exist on this host"
	v=$2
	if [ -n "$R" ]; then
		case $1 in
		*/sriov_numvfs)
			cur=$(cat "$f")
			if [ "$cur" != 0 ] && [ "$v" != 0 ]; then
				die "cannot write $v to $1: Device or resource busy (write 0 first)"
			fi
			;;
		esac
		if [ -f "$R/.kernel-max$1" ]; then
			max=$(cat "$R/.kernel-max$1")
			if [ "$v" -gt "$max" ] 2>/dev/null; then v=$max; fi
		fi
	fi
	CHANGED=1
	printf '%s\n' "$v" >"$f" || die "cannot write $2 to $1"
	printf 'set %s %s\n' "$1" "$2"
}

# kwrite_all GLOB VALUE: kwrite to every file GLOB matches (one per CPU); at least one.
kwrite_all() {
	n=0
	for f in "$R"$1; do
		[ -e "$f" ] || continue
		kwrite "${f#"$R"}" "$2"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || refuse "no file matches $1 on this host"
}

# sriov_numvfs PF N: sets the PF's VF count: 0 first, then N (a non-zero to non-zero write
# fails with EBUSY); refuses N above sriov_totalvfs; waits (30 s at most) for the VFs.
sriov_numvfs() {
	dev="/sys/class/net/$1/device"
	[ -e "$R$dev/sriov_totalvfs" ] || refuse "$1 has no SR-IOV ($dev/sriov_totalvfs is missing)"
	total=$(cat "$R$dev/sriov_totalvfs")
	if [ "$2" -gt "$total" ]; then
		refuse "$1: $2 VFs asked, the device offers at most $total (sriov_totalvfs)"
	fi
	cur=$(cat "$R$dev/sriov_numvfs")
	if [ "$cur" = "$2" ]; then
		printf 'unchanged %s %s\n' "$dev/sriov_numvfs" "$2"
		return 0
	fi
	if [ "$cur" != 0 ]; then kwrite "$dev/sriov_numvfs" 0; fi
	if [ "$2" != 0 ]; then kwrite "$dev/sriov_numvfs" "$2"; fi
	[ -z "$R" ] || return 0
	i=0
	while [ "$i" -lt 30 ]; do
		n=0
		for v in "$dev"/virtfn*; do
			[ -e "$v" ] && n=$((n + 1))
		done
		[ "$n" -ge "$2" ] && break
		sleep 1
		i=$((i + 1))
	done
	[ "$n" -ge "$2" ] || die "$1: $n of $2 VFs appeared within 30 s"
	if command -v udevadm >/dev/null 2>&1; then
		udevadm settle --timeout=30 || die "udevadm settle did not finish within 30 s"
	fi
	printf 'waited for %s VFs of %s\n' "$2" "$1"
}

# hugepages SIZE_KB NODE PAGES: sets a pool (NODE `-`: the size's global pool) and reads back
# what the kernel allocated; a shortfall is collected in SHORT and reported by hugepages_done.
SHORT=''
hugepages() {
	if [ "$2" = - ]; then
		p="/sys/kernel/mm/hugepages/hugepages-$1kB/nr_hugepages"
		where="in total"
	else
		p="/sys/devices/system/node/node$2/hugepages/hugepages-$1kB/nr_hugepages"
		where="on node $2"
	fi
	kwrite "$p" "$3"
	got=$(cat "$R$p")
	if [ "$got" -lt "$3" ] 2>/dev/null; then
		SHORT="$SHORT${SHORT:+; }$got of $3 pages of $1 kB $where"
	fi
}

hugepages_done() {
	if [ -n "$SHORT" ]; then
		die "the kernel allocated fewer hugepages than asked (free memory is fragmented): $SHORT; the pools are left as allocated"
	fi
}

# grub_remove ARG: deletes the whole word ARG from the GRUB_CMDLINE_LINUX and
# GRUB_CMDLINE_LINUX_DEFAULT assignments of /etc/default/grub and the grub.d files that
# bmfleet does not own.
grub_remove() {
	for f in "$R/etc/default/grub" "$R"/etc/default/grub.d/*.cfg; do
		[ -f "$f" ] || continue
		case $f in */90-bmfleet.cfg | */91-bmfleet-hugepages.cfg) continue ;; esac
		BMFLEET_ARG=$1 awk '
			BEGIN { a = ENVIRON["BMFLEET_ARG"]; n = length(a) }
			/^[ \t]*(export[ \t]+)?GRUB_CMDLINE_LINUX(_DEFAULT)?=/ {
				out = ""; s = $0
				while ((i = index(s, a)) > 0) {
					before = (i == 1) ? "" : substr(s, i - 1, 1)
					after = substr(s, i + n, 1)
					if ((before == " " || before == "\"" || before == "'\''" || before == "=") &&
					    (after == "" || after == " " || after == "\"" || after == "'\''")) {
						out = out substr(s, 1, i - 1)
						s = substr(s, i + n)
						if (substr(s, 1, 1) == " ") s = substr(s, 2)
						else if (substr(out, length(out), 1) == " ") out = substr(out, 1, length(out) - 1)
					} else {
						out = out substr(s, 1, i + n - 1)
						s = substr(s, i + n)
					}
				}
				print out s; next
			}
			{ print }
		' "$f" >"$f.bmfleet-new" || refuse "cannot read ${f#"$R"}"
		if cmp -s "$f" "$f.bmfleet-new"; then
			rm -f "$f.bmfleet-new"
		else
			CHANGED=1
			mv -f "$f.bmfleet-new" "$f" || die "cannot rewrite ${f#"$R"}"
			printf 'removed %s from %s\n' "$1" "${f#"$R"}"
		fi
	done
}

# grub_update: regenerates the GRUB configuration.
grub_update() {
	if has update-grub; then
		run update-grub
	elif has grub2-mkconfig; then
		run grub2-mkconfig -o /boot/grub2/grub.cfg
	elif has grub-mkconfig; then
		run grub-mkconfig -o /boot/grub/grub.cfg
	else
		die "no update-grub, grub2-mkconfig or grub-mkconfig: the boot configuration was not regenerated"
	fi
}

# unit_enable UNIT: reloads systemd and enables UNIT.
unit_enable() {
	if [ -n "$R" ] || command -v systemctl >/dev/null 2>&1; then
		run systemctl daemon-reload
		run systemctl enable "$1"
	else
		die "no systemctl: $1 was written but cannot be enabled"
	fi
}

# size_kb SIZE: a page size (2M, 1G, 2048k) in kB.
size_kb() {
	case $1 in
	*[Gg]) echo $((${1%?} * 1048576)) ;;
	*[Mm]) echo $((${1%?} * 1024)) ;;
	*[Kk]) echo "${1%?}" ;;
	*) echo "$1" ;;
	esac
}

# sysroot_boot: in sysroot mode only, what a reboot does to the files the probe reads (the
# local transport's stand-in for a real boot, run by await-os): /proc/cmdline from the GRUB
# configuration (sourced, as grub-mkconfig does), hugepage pools and the default size from
# those arguments, and cloud-init taking a NoCloud seed whose instance id is new. On a real
# host it does nothing.
sysroot_boot() {
	[ -n "$R" ] || return 0
	if [ -f "$R/etc/default/grub" ]; then
		GRUB_CMDLINE_LINUX=''
		GRUB_CMDLINE_LINUX_DEFAULT=''
		# shellcheck disable=SC1090,SC1091
		. "$R/etc/default/grub"
		for f in "$R"/etc/default/grub.d/*.cfg; do
			# shellcheck disable=SC1090
			[ -f "$f" ] && . "$f"
		done
		head=''
		read -r old_cmdline <"$R/proc/cmdline" || old_cmdline=''
		for w in $old_cmdline; do
			case $w in BOOT_IMAGE=* | root=* | ro | rw) head="$head${head:+ }$w" ;; esac
		done
		line="$head $GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT"
		# shellcheck disable=SC2086
		set -- $line
		printf '%s\n' "$*" >"$R/proc/cmdline"
		sz=''
		for w in "$@"; do
			case $w in
			default_hugepagesz=*)
				kb=$(size_kb "${w#*=}")
				sed "s/^Hugepagesize:.*/Hugepagesize:    $kb kB/" "$R/proc/meminfo" >"$R/proc/meminfo.new" &&
					mv "$R/proc/meminfo.new" "$R/proc/meminfo"
				;;
			hugepagesz=*) sz=$(size_kb "${w#*=}") ;;
			hugepages=*)
				[ -n "$sz" ] || continue
				v=${w#*=}
				nodes=0
				for d in "$R"/sys/devices/system/node/node[0-9]*; do
					[ -d "$d" ] && nodes=$((nodes + 1))
				done
				[ "$nodes" -gt 0 ] || nodes=1
				case $v in
				*:*)
					total=0
					for nc in $(printf '%s\n' "$v" | tr ',' ' '); do
						n=${nc%%:*}
						c=${nc#*:}
						f="$R/sys/devices/system/node/node$n/hugepages/hugepages-${sz}kB/nr_hugepages"
						[ -f "$f" ] && printf '%s\n' "$c" >"$f"
						total=$((total + c))
					done
					;;
				*)
					total=$v
					i=0
					while [ "$i" -lt "$nodes" ]; do
						c=$((v / nodes))
						[ "$i" -lt $((v % nodes)) ] && c=$((c + 1))
						f="$R/sys/devices/system/node/node$i/hugepages/hugepages-${sz}kB/nr_hugepages"
						[ -f "$f" ] && printf '%s\n' "$c" >"$f"
						i=$((i + 1))
					done
					;;
				esac
				f="$R/sys/kernel/mm/hugepages/hugepages-${sz}kB/nr_hugepages"
				[ -f "$f" ] && printf '%s\n' "$total" >"$f"
				;;
			esac
		done
	fi
	seed="$R/var/lib/cloud/seed/nocloud"
	if [ -f "$seed/meta-data" ]; then
		id=$(sed -n 's/^instance-id:[ ]*//p' "$seed/meta-data" | head -n 1)
		old=$(cat "$R/var/lib/cloud/data/instance-id" 2>/dev/null || true)
		if [ -n "$id" ] && [ "$id" != "$old" ]; then
			mkdir -p "$R/var/lib/cloud/data" "$R/var/lib/cloud/instance"
			printf '%s\n' "$id" >"$R/var/lib/cloud/data/instance-id"
			[ -f "$seed/user-data" ] && cp "$seed/user-data" "$R/var/lib/cloud/instance/user-data.txt"
		fi
	fi
	printf 'booted %s\n' "$R"
}

# vfio_bind PCI: binds a PCI device (0000:3b:00.0) to vfio-pci.
vfio_bind() {
	vfio_bind_dev "/sys/bus/pci/devices/$1" "$1"
}

# vfio_bind_vf PF ID: binds VF ID of PF (its device is PF's device/virtfnID) to vfio-pci.
vfio_bind_vf() {
	l="/sys/class/net/$1/device/virtfn$2"
	[ -L "$R$l" ] || refuse "$1 has no VF $2 (no device/virtfn$2)"
	a=$(readlink "$R$l")
	vfio_bind_dev "$l" "${a##*/}"
}

# vfio_bind_dev DEVICE_PATH PCI: binds the device at DEVICE_PATH (PCI address PCI) to
# vfio-pci through driver_override and drivers_probe (kernel ABI sysfs-bus-pci); leaves one
# already bound alone. In sysroot mode the binding is emulated: the device's `driver` link and
# the driver's entry are made as the kernel shows them.
vfio_bind_dev() {
	dev=$1
	[ -e "$R$dev" ] || refuse "PCI device $2 does not exist on this host"
	drv=''
	if [ -L "$R$dev/driver" ]; then
		drv=$(readlink "$R$dev/driver")
		drv=${drv##*/}
	fi
	if [ "$drv" = vfio-pci ]; then
		printf 'unchanged %s vfio-pci\n' "$2"
		return 0
	fi
	if [ -n "$R" ]; then
		CHANGED=1
		mkdir -p "$R/sys/bus/pci/drivers/vfio-pci" || die "cannot bind $2"
		rm -f "$R$dev/driver"
		ln -s "$R/sys/bus/pci/drivers/vfio-pci" "$R$dev/driver" || die "cannot bind $2"
		: >"$R/sys/bus/pci/drivers/vfio-pci/$2"
		printf 'bound %s to vfio-pci (was %s)\n' "$2" "${drv:-unbound}"
		return 0
	fi
	[ -d /sys/bus/pci/drivers/vfio-pci ] || run modprobe vfio-pci
	kwrite "$dev/driver_override" vfio-pci
	if [ -n "$drv" ]; then kwrite "$dev/driver/unbind" "$2"; fi
	kwrite /sys/bus/pci/drivers_probe "$2"
	drv=$(readlink "$dev/driver" 2>/dev/null || true)
	[ "${drv##*/}" = vfio-pci ] || die "$2 is not bound to vfio-pci after drivers_probe (IOMMU off? see dmesg)"
	printf 'bound %s to vfio-pci\n' "$2"
}
