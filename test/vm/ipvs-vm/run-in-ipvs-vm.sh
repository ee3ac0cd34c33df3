#!/usr/bin/env bash
# Carried in this repository from the team's shared tools (shared/tools/ipvs-vm), so that a
# clean clone runs its VM suite without them; see test/vm/launch.ts for how it is called.
# run-in-ipvs-vm.sh — run a command inside a throw-away QEMU guest that boots a
# real Debian Linux kernel with IPVS, so the real `ipvsadm` can be exercised on
# a host whose own kernel has no IPVS.
#
# The guest's root filesystem is the HOST's root filesystem, shared read-only
# over virtio-9p with a tmpfs overlay on top (the "virtme" trick), so every
# binary of the host (node, npm, ipvsadm, ip, bash, ...) is there at the same
# path.  DIR is additionally shared read-write (or read-only + overlay with
# --ro) at the same absolute path, and the command runs with DIR as its cwd.
#
# Usage: run-in-ipvs-vm.sh [options] DIR [--] CMD [ARGS...]
#   CMD with no ARGS is run as a shell string by /bin/sh -c; with ARGS it is
#   exec'd as an argv (no shell).
#
# Options:
#   -e, --env NAME[=VALUE]  pass an environment variable into the guest
#                           (repeatable; NAME alone copies the host value)
#   -t, --timeout SECS      wall-clock limit for the whole VM (default 900)
#   -m, --mem MB            guest memory (default 2048)
#   -c, --cpus N            guest vCPUs (default: host cores, at most 4)
#       --accel auto|kvm|tcg  (default auto; env IPVS_VM_ACCEL)
#       --ro                share DIR read-only; guest writes to it go to a
#                           tmpfs overlay and are thrown away
#   -v, --verbose           print boot progress and the guest kernel log
#   -h, --help
#
# Exit status: the command's exit status; 124 when the timeout hit; 125 when
# the VM could not be set up or died without reporting a status.
#
# Environment: IPVS_VM_CACHE (default /tmp/ipvs-vm-cache) where the extracted
# kernel + initramfs are cached; IPVS_VM_KVER to pick a kernel version from
# /boot; IPVS_VM_NO_INSTALL=1 to never run apt-get; IPVS_VM_KEEP=1 keeps the
# per-run folder (/tmp/ipvs-vm-run.*: console.log, qemu.log); IPVS_VM_WORK_CACHE
# = loose (default, fastest; flushed by `sync` before power-off) | mmap | none
# is the 9p cache mode of DIR.
set -euo pipefail

SCRIPT_VERSION=3   # bump when the initramfs layout / init scripts change
PROG=${0##*/}

die() { echo "$PROG: $*" >&2; exit 125; }
log() { [ "$VERBOSE" = 1 ] && echo "$PROG: $*" >&2 || true; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

# ---------------------------------------------------------------- arguments
TIMEOUT=900 MEM=2048 CPUS="" ACCEL=${IPVS_VM_ACCEL:-auto} RO=0 VERBOSE=0
ENV_NAMES=()
while [ $# -gt 0 ]; do
  case $1 in
    -e|--env) [ $# -ge 2 ] || die "$1 needs an argument"; ENV_NAMES+=("$2"); shift 2 ;;
    --env=*) ENV_NAMES+=("${1#--env=}"); shift ;;
    -t|--timeout) TIMEOUT=${2:?}; shift 2 ;;
    -m|--mem) MEM=${2:?}; shift 2 ;;
    -c|--cpus) CPUS=${2:?}; shift 2 ;;
    --accel) ACCEL=${2:?}; shift 2 ;;
    --accel=*) ACCEL=${1#--accel=}; shift ;;
    --ro) RO=1; shift ;;
    -v|--verbose) VERBOSE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { usage >&2; exit 125; }
DIR=$1; shift
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || die "no command given"
[ -d "$DIR" ] || die "not a directory: $DIR"
DIR=$(cd "$DIR" && pwd -P)
[ "$DIR" != / ] || die "DIR must not be /"
case $DIR in *[[:space:],]*) die "DIR must not contain spaces or commas: $DIR" ;; esac
case $TIMEOUT in ''|*[!0-9]*) die "bad --timeout" ;; esac
if [ -z "$CPUS" ]; then CPUS=$(nproc 2>/dev/null || echo 1); [ "$CPUS" -gt 4 ] && CPUS=4; fi

T_START=$(date +%s.%N)
elapsed() { awk -v s="$T_START" -v e="$(date +%s.%N)" 'BEGIN{printf "%.2f", e-s}'; }

# ---------------------------------------------------------------- packages
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
[ -x /usr/sbin/ipvsadm ] || [ -x /sbin/ipvsadm ] || need_pkgs+=(ipvsadm)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
command -v cpio >/dev/null || need_pkgs+=(cpio)
command -v xz >/dev/null || need_pkgs+=(xz-utils)
command -v modprobe >/dev/null || need_pkgs+=(kmod)
if ! ls /lib/modules/*/kernel/net/netfilter/ipvs/ip_vs.ko* >/dev/null 2>&1; then
  need_pkgs+=(linux-image-amd64)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "${IPVS_VM_NO_INSTALL:-0}" = 1 ] && die "missing packages: ${need_pkgs[*]}"
  [ "$(id -u)" = 0 ] || die "missing packages (need root to install): ${need_pkgs[*]}"
  echo "$PROG: installing ${need_pkgs[*]} ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends "${need_pkgs[@]}" ||
    { apt-get update -o DPkg::Lock::Timeout=600 &&
      apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends "${need_pkgs[@]}"; }
  } >/dev/null 2>&1 || die "apt-get install ${need_pkgs[*]} failed"
fi

# ---------------------------------------------------------------- kernel
pick_kver() {
  local v best=""
  if [ -n "${IPVS_VM_KVER:-}" ]; then echo "$IPVS_VM_KVER"; return; fi
  for v in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's,^/boot/vmlinuz-,,' | sort -V); do
    ls /lib/modules/"$v"/kernel/net/netfilter/ipvs/ip_vs.ko* >/dev/null 2>&1 && best=$v
  done
  echo "$best"
}
KVER=$(pick_kver)
[ -n "$KVER" ] && [ -f "/boot/vmlinuz-$KVER" ] || die "no /boot/vmlinuz-* with IPVS modules found (install linux-image-amd64)"
MODDIR=/lib/modules/$KVER
IPVS_MODS="ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_dh ip_vs_sed ip_vs_nq
  ip_vs_lblc ip_vs_lblcr ip_vs_fo ip_vs_ovf ip_vs_mh"

# ---------------------------------------------------------------- cache
# Two cached artefacts: the extracted kernel (keyed by the bzImage) and the
# initramfs (keyed by this script + busybox + kernel version).
CACHE_ROOT=${IPVS_VM_CACHE:-/tmp/ipvs-vm-cache}
mkdir -p "$CACHE_ROOT"
KSIG=$(cksum < "/boot/vmlinuz-$KVER" | cut -d' ' -f1)
ISIG=$(cat "$0" /bin/busybox | cksum | cut -d' ' -f1)
KERNEL=$CACHE_ROOT/kernel-$KVER-$KSIG
INITRD=$CACHE_ROOT/initrd-$KVER-v$SCRIPT_VERSION-$ISIG

# Extract the uncompressed ELF vmlinux from the bzImage: QEMU boots it through
# its PVH entry point, which skips the in-guest decompression (~2.5 s of TCG).
extract_vmlinux() { # $1=bzImage $2=out
  local img=$1 out=$2 off magic tool
  for magic in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
    tool=${magic%%:*}; magic=${magic#*:}
    command -v "$tool" >/dev/null || continue
    for off in $(LC_ALL=C grep -obUaP "$magic" "$img" 2>/dev/null | cut -d: -f1 | head -5); do
      tail -c +$((off + 1)) "$img" | "$tool" -dc 2>/dev/null > "$out.tmp" || true
      if [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
        mv "$out.tmp" "$out"; return 0
      fi
    done
  done
  rm -f "$out.tmp"; return 1
}

copy_with_libs() { # $1=binary $2=root $3=dest path inside root
  local bin=$1 root=$2 dest=$3 lib
  mkdir -p "$root$(dirname "$dest")"; cp -L "$bin" "$root$dest"
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
    mkdir -p "$root$(dirname "$lib")"; cp -Ln "$lib" "$root$lib"
  done
}

build_kernel() {
  log "extracting kernel $KVER to $KERNEL"
  # QEMU can only boot an ELF vmlinux through its PVH note (CONFIG_PVH=y).
  if ! grep -q '^CONFIG_PVH=y' "/boot/config-$KVER" 2>/dev/null ||
     ! extract_vmlinux "/boot/vmlinuz-$KVER" "$KERNEL.tmp$$"; then
    log "could not extract a PVH vmlinux, booting the bzImage (slower)"
    cp "/boot/vmlinuz-$KVER" "$KERNEL.tmp$$"
  fi
  mv "$KERNEL.tmp$$" "$KERNEL"
}

build_initrd() {
  local r m p
  log "building initramfs $INITRD"
  r=$(mktemp -d "$CACHE_ROOT/.root.XXXXXX")
  mkdir -p "$r"/{bin,proc,sys,dev,lower,upper,newroot,wlower,modules}
  copy_with_libs /bin/busybox "$r" /bin/busybox
  for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
  : > "$r/modules/order"
  # virtio + 9p + overlay to assemble the root; IPVS + schedulers preloaded
  # here because busybox insmod is much faster than modprobe over 9p.
  for m in virtio_pci 9pnet_virtio 9p overlay virtio_console $IPVS_MODS; do
    modprobe -S "$KVER" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' | while read -r p; do
    case $p in
      *.ko) cp "$p" "$r/modules/" ;;
      *.ko.xz) xz -dc "$p" > "$r/modules/$(basename "${p%.xz}")" ;;
      *.ko.zst) zstd -qdc "$p" > "$r/modules/$(basename "${p%.zst}")" ;;
      *.ko.gz) gzip -dc "$p" > "$r/modules/$(basename "${p%.gz}")" ;;
    esac
    p=$(basename "$p"); echo "${p%.ko*}.ko" >> "$r/modules/order"
  done
  grep -q '^ip_vs.ko$' "$r/modules/order" || { rm -rf "$r"; die "no ip_vs module for $KVER"; }
  write_stage1 > "$r/init"; chmod 755 "$r/init"
  write_stage2 > "$r/stage2"; chmod 755 "$r/stage2"
  (cd "$r" && find . -print0 | cpio --null -o -H newc --quiet) > "$INITRD.tmp$$"
  rm -rf "$r"
  mv "$INITRD.tmp$$" "$INITRD"
}

# Stage 1: PID 1 from the initramfs (busybox).  Loads virtio/9p/overlay,
# assembles the new root (host / read-only + tmpfs overlay), mounts DIR and
# switches root.
write_stage1() { cat <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
fail() { echo "ipvs-vm stage1: $*" >&2; echo o > /proc/sysrq-trigger; sleep 5; exit 1; }
mark() { read -r up _ < /proc/uptime; echo "ipvs-vm: [$up] $*" > /dev/ttyS0; }
mark "stage1 start"
for a in $(cat /proc/cmdline); do
  case $a in
    ipvsvm.run=*) RUN=${a#*=} ;;
    ipvsvm.dir=*) WDIR=${a#*=} ;;
    ipvsvm.ro=*) WRO=${a#*=} ;;
    ipvsvm.cache=*) WCACHE=${a#*=} ;;
  esac
done
while read -r m; do insmod /modules/$m 2>/dev/null; done < /modules/order
mark "modules loaded"
O=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o ro,$O,cache=loose hostroot /lower || fail "cannot mount host root"
mount -t tmpfs -o mode=0755 tmpfs /upper && mkdir /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot ||
  fail "cannot mount overlay"
N=/newroot
mount -t proc proc $N/proc; mount -t sysfs sysfs $N/sys; mount -t devtmpfs devtmpfs $N/dev
mkdir -p $N/dev/pts $N/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $N/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $N/dev/shm
mount -t tmpfs -o mode=0755 tmpfs $N/run
mkdir -p $N/run/ipvs-vm
cp -a /lower$RUN/in/. $N/run/ipvs-vm/ 2>/dev/null || fail "cannot read run dir $RUN"
cp /bin/busybox /stage2 $N/run/ipvs-vm/
mount -t tmpfs -o mode=1777 tmpfs $N/tmp
mkdir -p $N$WDIR
if [ "$WRO" = 1 ]; then
  mount -t 9p -o ro,$O,cache=loose work /wlower || fail "cannot mount work dir"
  mkdir -p /upper/wu /upper/ww
  mount -t overlay overlay -o lowerdir=/wlower,upperdir=/upper/wu,workdir=/upper/ww $N$WDIR ||
    fail "cannot overlay work dir"
else
  mount -t 9p -o $O,cache=$WCACHE work $N$WDIR || fail "cannot mount work dir"
fi
mark "switching root"
exec switch_root $N /run/ipvs-vm/busybox sh /run/ipvs-vm/stage2
EOF
}

# Stage 2: PID 1 inside the new root.  Loads IPVS, runs the command with its
# stdout/stderr on two virtio-serial ports, reports the status on a third one
# and powers off.
write_stage2() { cat <<'EOF'
B=/run/ipvs-vm/busybox
R=/run/ipvs-vm
port() { for p in /sys/class/virtio-ports/*; do
  [ "$($B cat $p/name 2>/dev/null)" = "$1" ] && { echo /dev/${p##*/}; return; }; done; echo /dev/null; }
mark() { read -r up _ < /proc/uptime; echo "ipvs-vm: [$up] $*" > /dev/ttyS0; }
mark "stage2 start"
OUT=$(port ipvsvm.stdout) ERR=$(port ipvsvm.stderr) STATUS=$(port ipvsvm.status)
$B hostname ipvs-vm
$B ip link set lo up
[ -e /proc/net/ip_vs ] || echo "ipvs-vm: warning: ip_vs not loaded" >$ERR
export HOME=/root TERM=dumb LANG=C.UTF-8 IPVS_VM=1
export PATH="$(cat $R/path)"
cd "$(cat $R/dir)" || { echo 125 > $STATUS; $B sync; $B poweroff -f; }
(. $R/env.sh; exec /bin/sh $R/cmd.sh) </dev/null >$OUT 2>$ERR
RC=$?
mark "command exited with $RC"
echo $RC > $STATUS
$B sync
$B poweroff -f
EOF
}

if [ ! -f "$INITRD" ] || [ ! -f "$KERNEL" ]; then
  exec 9>"$CACHE_ROOT/.lock"; flock 9
  [ -f "$KERNEL" ] || build_kernel
  [ -f "$INITRD" ] || build_initrd
  # drop artefacts of other kernels / script versions unused for an hour
  find "$CACHE_ROOT" -maxdepth 1 \( -name 'kernel-*' -o -name 'initrd-*' -o -name '.root.*' \) \
    ! -path "$KERNEL" ! -path "$INITRD" -mmin +60 -exec rm -rf {} + 2>/dev/null || true
  flock -u 9; exec 9>&-
fi
touch "$KERNEL" "$INITRD"
log "image ready after $(elapsed)s"

# ---------------------------------------------------------------- run dir
RUN=$(mktemp -d /tmp/ipvs-vm-run.XXXXXX); mkdir "$RUN/in"
QPID=""
cleanup() {
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null || true
  if [ "${IPVS_VM_KEEP:-0}" = 1 ]; then echo "$PROG: kept $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sq() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }   # POSIX single-quote
{
  if [ $# -eq 1 ]; then printf '%s\n' "$1"
  else printf 'exec'; for a in "$@"; do printf ' %s' "$(sq "$a")"; done; echo; fi
} > "$RUN/in/cmd.sh"
: > "$RUN/in/env.sh"
for kv in CI NODE_ENV NODE_OPTIONS "${ENV_NAMES[@]}"; do
  case $kv in
    *=*) n=${kv%%=*} v=${kv#*=} ;;
    *) n=$kv; [ -n "${!n+x}" ] || continue; v=${!n} ;;
  esac
  [[ $n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad env name: $n"
  printf 'export %s=%s\n' "$n" "$(sq "$v")" >> "$RUN/in/env.sh"
done
printf '%s\n' "$DIR" > "$RUN/in/dir"
printf '%s\n' "${PATH}:/usr/local/sbin:/usr/sbin:/sbin" > "$RUN/in/path"
mkfifo "$RUN/out" "$RUN/err"

# ---------------------------------------------------------------- accel
if [ "$ACCEL" = auto ]; then
  ACCEL=tcg
  # kvm_pvm (nested "pagetable VM") only runs specially built guests quickly;
  # a stock kernel crawls there (minutes to boot), so use TCG on such hosts.
  if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] &&
     { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then ACCEL=kvm; fi
fi
case $ACCEL in
  kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
  tcg) ACCEL_ARGS=(-accel tcg,thread=multi -cpu max) ;;
  *) die "bad --accel $ACCEL" ;;
esac
log "accel=$ACCEL cpus=$CPUS mem=${MEM}M kernel=$KVER dir=$DIR ro=$RO"

KQUIET="quiet loglevel=3"; [ "$VERBOSE" = 1 ] && KQUIET="loglevel=6"
APPEND="console=ttyS0 $KQUIET panic=-1 mitigations=off cryptomgr.notests tsc=reliable"
APPEND+=" ipvsvm.run=$RUN ipvsvm.dir=$DIR ipvsvm.ro=$RO ipvsvm.cache=${IPVS_VM_WORK_CACHE:-loose}"
WRO=""; [ "$RO" = 1 ] && WRO=",readonly=on"

# Output: guest ports -> FIFOs -> cat -> our stdout/stderr.  QEMU must not get
# our own fds (its chardevs may set O_NONBLOCK on them).  We hold a write end
# of each FIFO ourselves (fd 3/4) so that opening never blocks and the readers
# see EOF exactly when both QEMU and we have closed them.
cat "$RUN/out" 3>&- 4>&- & OUTPID=$!
cat "$RUN/err" >&2 3>&- 4>&- & ERRPID=$!
exec 3<>"$RUN/out" 4<>"$RUN/err"
set +e
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 "${ACCEL_ARGS[@]}" \
  -machine pc -m "$MEM" -smp "$CPUS" -nodefaults -no-user-config -display none -no-reboot \
  -kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND" \
  -serial "file:$RUN/console.log" \
  -device virtio-serial-pci,id=vser \
  -chardev "file,id=out,path=$RUN/out" -device virtserialport,bus=vser.0,chardev=out,name=ipvsvm.stdout \
  -chardev "file,id=err,path=$RUN/err" -device virtserialport,bus=vser.0,chardev=err,name=ipvsvm.stderr \
  -chardev "file,id=st,path=$RUN/status" -device virtserialport,bus=vser.0,chardev=st,name=ipvsvm.status \
  -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev "local,id=work,path=$DIR,security_model=none,multidevs=remap$WRO" \
  -device virtio-9p-pci,fsdev=work,mount_tag=work \
  </dev/null >"$RUN/qemu.log" 2>&1 3>&- 4>&- &
QPID=$!
wait "$QPID"; QRC=$?
QPID=""
exec 3>&- 4>&-
wait "$OUTPID" "$ERRPID" 2>/dev/null
set -e
log "VM exited (qemu rc=$QRC) after $(elapsed)s"

RC=$(tr -dc '0-9' < "$RUN/status" 2>/dev/null || true)
if [ -z "$RC" ]; then
  if [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then
    echo "$PROG: timed out after ${TIMEOUT}s" >&2; RC=124
  else
    echo "$PROG: the VM ended without reporting a status (qemu rc=$QRC)" >&2; RC=125
  fi
  { echo "--- qemu:"; tail -n 20 "$RUN/qemu.log"; echo "--- guest console:"; tail -n 40 "$RUN/console.log"; } 2>/dev/null |
    tr -d '\033' >&2
elif [ "$VERBOSE" = 1 ]; then
  { echo "--- guest console:"; tr -d '\033' < "$RUN/console.log"; } >&2
fi
exit "$RC"
