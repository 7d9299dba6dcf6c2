#!/usr/bin/env bash
# Opt-in end-to-end run against the lab of ../shared/lab (issue 8, item 7): one Debian guest
# with real igb NICs (SR-IOV), a real kernel and GRUB, behind a sushy-tools libvirt BMC.
#
#   BMFLEET_E2E=1 scripts/e2e-lab.sh          # the lab must be up: ../shared/lab/up.sh -m libvirt -n 1
#
# It writes a one-host fleet (a Git repo in a temporary directory) whose spec differs from the
# guest as booted (sysctl, a 2M hugepage pool, 2 VFs on enp1s0 with a trusted VF, a kernel
# argument), then: plan -> apply (writes over SSH, one reboot through Redfish, await-os,
# verify) -> plan again, which must report no changes (--detailed-exitcode 0). Timings are
# printed. Not part of .ci/run: boots under qemu TCG take 20 s to 6 min.
set -euo pipefail
if [ "${BMFLEET_E2E:-}" != 1 ]; then
  echo "SKIPPED: set BMFLEET_E2E=1 to run the lab end-to-end test" >&2
  exit 0
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
BMLAB_DIR=${BMLAB_DIR:-/var/tmp/bmlab}
KEY=$BMLAB_DIR/ssh/id_ed25519
SSH_PORT=${SSH_PORT:-2221}
SUSHY=${SUSHY:-http://127.0.0.1:8000}
[ -r "$KEY" ] || { echo "error: no lab key at $KEY (build the lab image first)" >&2; exit 1; }
curl -fsS "$SUSHY/redfish/v1/Systems" >/dev/null || { echo "error: no Redfish at $SUSHY (../shared/lab/up.sh -m libvirt -n 1)" >&2; exit 1; }
uuid=$(curl -fsS "$SUSHY/redfish/v1/Systems" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Members"][0]["@odata.id"].rsplit("/",1)[1])')

(cd "$repo" && cargo build --quiet)
bin=${BMFLEET_BIN:-$repo/target/debug/bmfleet}
work=$(mktemp -d /tmp/bmfleet-e2e.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
ssh-keyscan -p "$SSH_PORT" -t ed25519 127.0.0.1 2>/dev/null >"$work/known_hosts"
cat >"$work/ssh_config" <<CFG
Host 127.0.0.1
  UserKnownHostsFile $work/known_hosts
  IdentitiesOnly yes
CFG
mkdir -p "$work/fleet"
cat >"$work/fleet/fleet.yaml" <<YAML
apiVersion: bmfleet.dev/v1alpha1
kind: Fleet
metadata: {name: lab}
spec:
  credentials:
    lab: {usernameEnv: LAB_BMC_USER, passwordEnv: LAB_BMC_PASSWORD}
  defaults:
    power: On
    bmc: {credentialsRef: lab}
YAML
cat >"$work/fleet/node1.yaml" <<YAML
apiVersion: bmfleet.dev/v1alpha1
kind: Host
metadata: {name: node1}
spec:
  bmc:
    endpoint: $SUSHY
    systemId: $uuid
  os:
    ssh: {host: 127.0.0.1, port: $SSH_PORT, user: root, identityFile: $KEY}
    sysctl:
      vm.swappiness: 7
    kernelArgs: [iommu=pt]
    hugepages:
      pages:
        - {size: 2M, count: 64}
  network:
    interfaces:
      - name: enp1s0
        type: ethernet
        ethernet:
          sr-iov:
            total-vfs: 2
            vfs:
              - {id: 0, trust: true}
YAML
(cd "$work/fleet" && git init -q && git add -A && git -c user.email=e2e@bmfleet -c user.name=e2e commit -qm lab)
export LAB_BMC_USER=admin LAB_BMC_PASSWORD=password
t0=$(date +%s)
"$bin" plan --fleet "$work/fleet" --ssh-config "$work/ssh_config" --out "$work/plan.json" --progress none
t1=$(date +%s)
rc=0
"$bin" apply "$work/plan.json" --fleet "$work/fleet" --ssh-config "$work/ssh_config" --progress none || rc=$?
t2=$(date +%s)
"$bin" plan --fleet "$work/fleet" --ssh-config "$work/ssh_config" --detailed-exitcode --progress none || rc2=$?
t3=$(date +%s)
echo "==> timings: plan $((t1 - t0)) s, apply $((t2 - t1)) s (rc $rc), plan again $((t3 - t2)) s (detailed exit code ${rc2:-0})"
if [ "$rc" = 0 ] && [ "${rc2:-0}" = 0 ]; then echo "E2E PASSED"; else echo "E2E FAILED"; exit 1; fi
