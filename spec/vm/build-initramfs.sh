#!/usr/bin/env bash
# The VM's initramfs: the host's own Debian packages that the specs use (each package
# with the packages it depends on, copied file by file at the same paths), the
# kernel modules the specs need, this checkout at its host path, and spec/vm/init.
# Usage: build-initramfs.sh MODULES_DIR OUT.cpio SPEC...   (run from the checkout)
set -euo pipefail
moddir=$1 out=$2; shift 2
tree=$PWD
stage=$(dirname "$out")/root
# What the specs call: lua, busted and lua-cjson (their JSON, as nsbox's), a shell and
# coreutils, ps/pgrep, ip, setpriv, unshare, script(1), ipcmk, cc and make (specs build
# probes and the setuid helper), libseccomp2 (nsbox.scmp, built on the host, links it; no
# package above depends on it), libnftnl (nsbox.nft and the helper), nft and dnsmasq (the
# egress specs read the table and serve DNS), passt (pasta, the rootless network); busybox
# for the rest.
PKGS=(lua5.4 lua-busted lua-cjson busybox-static dash bash coreutils findutils grep sed mawk
      util-linux mount bsdutils procps iproute2 hostname libmnl0 libmnl-dev libseccomp2 make
      gcc libc6-dev e2fsprogs libnftnl11 libnftnl-dev nftables dnsmasq-base passt)
# Modules: overlay (rootfs layers), veth and bridge (networks), nf_tables and what table
# inet nsbox uses (nat chains, masq, dnat, fib, ct status; ctnetlink to forget flows;
# nf_nat and conntrack come with them), nft_meta_bridge (any meta match in table bridge
# nsbox: 6.1 takes the bridge family's meta from it, and this initramfs autoloads
# nothing: without it, iifname gave ENOENT), tun, and loop
# and ext4 for a disk (an overlay's upper layer in a user namespace needs user xattrs,
# which 6.1's tmpfs lacks).
MODS=(overlay veth bridge nf_tables nft_meta_bridge nft_chain_nat nft_masq nft_nat nft_fib_inet nft_ct nf_conntrack_netlink tun
      crc32c_generic loop ext4)

installed() { [ -n "${inst[$1]:-}" ]; }

# The packages and, recursively, what they depend on (the installed choice of each alternative).
declare -A inst deps seen
while IFS=$'\t' read -r p st d; do
  [[ $st == *" installed" ]] && inst[$p]=1 && deps[$p]=$d
done < <(dpkg-query -W -f='${Package}\t${Status}\t${Pre-Depends},${Depends}\n')
queue=("${PKGS[@]}")
while [ ${#queue[@]} -gt 0 ]; do
  p=${queue[0]}; queue=("${queue[@]:1}")
  [ -n "${seen[$p]:-}" ] && continue
  installed "$p" || { echo "build-initramfs: package $p is not installed" >&2; exit 1; }
  seen[$p]=1
  IFS=',' read -ra ds <<< "${deps[$p]}"
  for d in "${ds[@]}"; do
    IFS='|' read -ra alts <<< "$d"
    for a in "${alts[@]}"; do
      a=${a%%(*}; a=${a%%:any*}; a=${a//[[:space:]]/}
      if [ -n "$a" ] && installed "$a"; then queue+=("$a"); break; fi
    done
  done
done

rm -rf "$stage" && mkdir -p "$stage"
# Debian 12 is merged-/usr: the top-level directories are links, as on the host.
for d in bin sbin lib lib64; do [ -L /$d ] && ln -s "$(readlink /$d)" "$stage/$d"; done
mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,tmp,run,root,home,mnt,media,opt,srv,var/tmp}

# Files of those packages at their merged-/usr paths (/bin/ls is /usr/bin/ls), less docs
# and the parts of gcc that no spec uses (sanitizers, LTO); one tar, not a copy per file.
for p in "${!seen[@]}"; do dpkg -L "$p"; done |
  sed -E 's#^/(bin|sbin|lib|lib64)(/|$)#/usr/\1\2#' | sort -u |
  grep -vE '^/usr/share/(doc|man|info|locale|lintian|bash-completion|zsh|bug)(/|$)|/lto1$|lto-dump|ld\.gold$|/lib(a|t|l|ub|hwa)san[^/]*$|/libgprofng' |
  while IFS= read -r f; do if [ -e "$f" ] || [ -L "$f" ]; then printf "%s\n" "${f#/}"; fi; done > "$stage.list"
tar -C / --no-recursion -T "$stage.list" -cf - | tar -C "$stage" -xf -

# update-alternatives links (cc, awk, ...) whose end is in the image.
for l in /usr/bin/* /usr/sbin/*; do
  [ -L "$l" ] && [[ $(readlink "$l") == /etc/alternatives/* ]] || continue
  alt=$(readlink "$l")
  [ -e "$stage$(readlink -f "$l")" ] || continue
  [ -e "$stage$l" ] || cp -a "$l" "$stage$l"
  mkdir -p "$stage/etc/alternatives" && cp -a "$alt" "$stage$alt"
done
ln -sf dash "$stage/usr/bin/sh" # dash's diversion of /bin/sh is made by its maintainer script
cp /etc/ld.so.cache "$stage/etc/"
# Busybox applets where no Debian binary is.
for a in $(busybox --list-full); do
  [ -e "$stage/$a" ] || [ -L "$stage/$a" ] || ln -s /bin/busybox "$stage/$a"
done

# Modules and what each depends on (modules.dep, made by busybox depmod), loaded by busybox modprobe.
kver=$(basename "$moddir")
[ -f "$moddir/modules.dep" ] || busybox depmod -b "$(dirname "$(dirname "$(dirname "$moddir")")")" "$kver"
mkdir -p "$stage/lib/modules/$kver"
cp "$moddir"/modules.{dep,alias,symbols,builtin,order} "$stage/lib/modules/$kver/"
for m in "${MODS[@]}"; do
  line=$(grep -E "(^|/)$m\.ko:" "$moddir/modules.dep") || { echo "build-initramfs: no module $m" >&2; exit 1; }
  for k in ${line/:/}; do
    mkdir -p "$stage/lib/modules/$kver/$(dirname "$k")"
    cp "$moddir/$k" "$stage/lib/modules/$kver/$k"
  done
done

# Users: root and nobody (65534, the uid the unprivileged specs drop to with setpriv).
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' \
  > "$stage/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' > "$stage/etc/group"
echo vm > "$stage/etc/hostname" # as a Debian system has (container_spec opens it as any host file)
chmod 1777 "$stage/tmp" "$stage/var/tmp"

# This checkout (as built) at its own path: the specs find nsbox from there.
mkdir -p "$stage$tree"
tar -C "$tree" --exclude=./.git --exclude=./build/vm --exclude=./build/debian --exclude=./build/debian.tmp \
  --exclude='./build/*.tap' --exclude=./build/bench -cf - . | tar -C "$stage$tree" -xf -
printf '%s\n' "$tree" > "$stage/etc/vmtest-tree"
printf '%s\n' "$@" > "$stage/etc/vmtest-specs"
install -m 755 "$tree/spec/vm/init" "$stage/init"

(cd "$stage" && find . | busybox cpio -o -H newc -R 0:0) > "$out.tmp" 2>/dev/null
mv "$out.tmp" "$out"
echo "initramfs: $out, $(du -sm "$out" | cut -f1) MB, ${#seen[@]} packages, kernel modules of $kver"
