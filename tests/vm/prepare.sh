#!/usr/bin/env bash
#! Stages what the VM tests boot: an ext4 disk (-O verity) with the test loaders and their `fsverity sign`
#! signatures, and an initramfs with busybox, bpfgate, bpftool (+ its libraries) and the guest scripts.
#! Usage: tests/vm/prepare.sh BPFGATE_BINARY OUTDIR   (keys: $OUTDIR/../keys/{signer,foreign}.{key,pem})
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bpfgate=$1
out=$2
keys=${BPFGATE_TEST_KEYS:-$(dirname "$out")/keys}
rm -rf "$out"; mkdir -p "$out/disk/t" "$out/disk/sig" "$out/initramfs"

gcc -static -O2 -Wall -o "$out/bpfprobe" "$here/../guest/bpfprobe.c" 2> >(grep -v "statically linked applications" >&2)
gcc -O2 -Wall -o "$out/bpfprobe-dyn" "$here/../guest/bpfprobe.c"
printf 'int bpfgate_test_lib = 1;\n' | gcc -shared -fPIC -x c -o "$out/libtest.so" -

sign() { # file key
    fsverity sign "$out/disk/t/$1" "$out/disk/sig/$1.sig" --key "$keys/$2.key" --cert "$keys/$2.pem" \
        --hash-alg sha256 --block-size 4096 >/dev/null
}
# Loaders: copies of one binary; every copy is its own inode with its own verdict.
for n in signed signed2 second cache secxattr unsigned foreign noverity corrupt empty truncated garbage big wrongfile; do
    cp "$out/bpfprobe" "$out/disk/t/probe-$n"
done
for n in signed signed2 cache secxattr noverity corrupt truncated; do sign "probe-$n" signer; done
sign probe-foreign foreign
sign probe-second second
# Different content (a trailing byte), validly signed: the policy tests put its digest on the denylist.
{ cat "$out/bpfprobe"; printf 'revoked'; } >"$out/disk/t/probe-revoked"; chmod +x "$out/disk/t/probe-revoked"
sign probe-revoked signer
# Different content again: the policy tests bind their digests to profiles.
# probe-net is signed by the second (rotation) key, which the policy tests bind to another profile by signer: its
# digest binding must win. The guest reads that key's fingerprint from second.fp.
# probe-sd is bound to a systemd-like profile (cgroup and LSM programs; some map and attach types), probe-req to
# one that requires signed programs.
for n in ro:signer net:second sd:signer req:signer; do
    { cat "$out/bpfprobe"; printf '%s' "${n%%:*}"; } >"$out/disk/t/probe-${n%%:*}"; chmod +x "$out/disk/t/probe-${n%%:*}"
    sign "probe-${n%%:*}" "${n#*:}"
done
openssl x509 -in "$keys/second.pem" -noout -fingerprint -sha256 | cut -d= -f2 >"$out/disk/sig/second.fp"
# A signature store (issue 17): probe-store's signature kept by digest, made by the signing recipe; probe-nostore
# has none; probe-badstore's entry is garbage.
for n in store nostore badstore; do { cat "$out/bpfprobe"; printf '%s' "$n"; } >"$out/disk/t/probe-$n"; done
chmod +x "$out/disk/t/probe-store" "$out/disk/t/probe-nostore" "$out/disk/t/probe-badstore"
"$here/../../scripts/sign-store.sh" "$keys/signer.key" "$keys/signer.pem" "$out/disk/store" "$out/disk/t/probe-store" >/dev/null
printf 'not a signature' >"$out/disk/store/sha256/$(fsverity digest --compact "$out/disk/t/probe-badstore").sig"
# A signature over other content: sign a different file, keep its signature for probe-wrongfile.
cp /bin/busybox "$out/disk/t/other"; sign other signer; cp "$out/disk/sig/other.sig" "$out/disk/sig/probe-wrongfile.sig"
rm "$out/disk/t/other" "$out/disk/sig/other.sig"
# Dynamic loaders need their whole library closure signed, ld.so included: signed copies of the libraries of
# bpftool and the dynamic probe, bind-mounted by the guest over the initramfs's unsigned ones.
mkdir -p "$out/disk/lib" "$out/disk/evil"
cp "$out/bpfprobe-dyn" "$out/disk/t/probe-dyn"; sign probe-dyn signer
for lib in $(ldd /usr/sbin/bpftool "$out/bpfprobe-dyn" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do
    cp -L "$lib" "$out/disk/lib/"
    echo "$lib" >>"$out/disk/lib/PATHS"
    fsverity sign "$out/disk/lib/$(basename "$lib")" "$out/disk/sig/lib-$(basename "$lib").sig" \
        --key "$keys/signer.key" --cert "$keys/signer.pem" --hash-alg sha256 --block-size 4096 >/dev/null
done
# Injection material: an unsigned library, a signed one, and an unsigned copy of a library bpftool needs.
cp "$out/libtest.so" "$out/disk/t/libevil.so"
cp "$out/libtest.so" "$out/disk/t/libgood.so"; sign libgood.so signer
cp -L "$(ldd /usr/sbin/bpftool | awk '/libz/ {print $3}')" "$out/disk/evil/"

# Other digest parameters (sha512; 1 KiB and 64 KiB Merkle blocks), each with a valid signature, a signature over
# other content made with the same parameters, and (set raw in the guest) empty, 64 KiB and random xattrs.
for v in sha512:sha512:4096 1k:sha256:1024 64k:sha256:65536; do
    IFS=: read -r name alg bs <<<"$v"
    for kind in valid wrong empty big random; do cp "$out/bpfprobe" "$out/disk/t/probe-v-$name-$kind"; done
    fsverity sign "$out/disk/t/probe-v-$name-valid" "$out/disk/sig/probe-v-$name-valid.sig" --key "$keys/signer.key" \
        --cert "$keys/signer.pem" --hash-alg "$alg" --block-size "$bs" >/dev/null
    fsverity sign /bin/busybox "$out/disk/sig/probe-v-$name-wrong.sig" --key "$keys/signer.key" \
        --cert "$keys/signer.pem" --hash-alg "$alg" --block-size "$bs" >/dev/null
done

# Benchmark workloads: one signed and one unsigned copy, and fresh signed copies for first-verification timing.
gcc -static -O2 -Wall -o "$out/bpfbench" "$here/../guest/bpfbench.c"
cp "$out/bpfbench" "$out/disk/t/bench-unsigned"
for n in signed fresh-1 fresh-2 fresh-3 fresh-4 fresh-5 fresh-6 fresh-7 fresh-8 fresh-9; do
    cp "$out/bpfbench" "$out/disk/t/bench-$n"; sign "bench-$n" signer
done

# Signed programs (policy bpf.signed, profiles' signed_programs; kernels 6.18+): light skeletons of one payload,
# signed with the gate's test key, with a foreign key, and unsigned; one static loader holds them all. The loader
# itself stays unsigned (untrusted). Two styles: up to 7.2 the signature covers the loader program's instructions
# (which check the data's hash themselves), from 7.3 the kernel checks it over the instructions and the data
# (fd_array_cnt). Each comes from the bpftool of a kernel of its style, run through sid's ld.so and libraries from
# the tools tests/fetch-kernels.sh unpacked: lskel (sid's, 7.2 today) and lskel73 (trixie-backports', 7.3).
cache=${BPFGATE_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfgate/kernels}
tools=$cache/sid-tools/root
for t in "$tools/usr/sbin/bpftool" "$cache/trixie-backports-tools/root/usr/sbin/bpftool"; do
    if [ ! -x "$t" ]; then
        echo "prepare: BPF tools are missing ($t): run tests/fetch-kernels.sh (make kernels)" >&2; exit 1
    fi
done
lib=$tools/usr/lib/x86_64-linux-gnu
inc=(-I"$tools/usr/include" -I"$tools/usr/include/x86_64-linux-gnu")
mkdir -p "$out/lskel"
clang -O2 -g -target bpf "${inc[@]}" -c "$here/../guest/signed/demo.bpf.c" -o "$out/lskel/demo.bpf.o"
# The kernel series a tools directory's bpftool was built from (its package version: bpftool=7.8.0+7.3.4-1...).
series() { sed -n 's/^bpftool=[^+]*+\([0-9]*\.[0-9]*\).*/\1/p' "$1/packages"; }
# build_lskel TOOLS NAME: the four skeletons made by TOOLS' bpftool, and the loader $out/disk/t/NAME.
build_lskel() {
    local bpftool=$1/root/usr/sbin/bpftool name=$2 dir=$out/lskel/$2 style
    mk() { "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$bpftool" gen skeleton -L "$@"; }
    mkdir -p "$dir/bpf"
    mk -S -k "$keys/signer.key" -i "$keys/signer.pem" "$out/lskel/demo.bpf.o" name demo_signed >"$dir/demo_signed.lskel.h"
    mk -S -k "$keys/foreign.key" -i "$keys/foreign.pem" "$out/lskel/demo.bpf.o" name demo_foreign \
        >"$dir/demo_foreign.lskel.h"
    mk "$out/lskel/demo.bpf.o" name demo_unsigned >"$dir/demo_unsigned.lskel.h"
    # Tampered: the signed skeleton with one byte of its loader data changed (7.2: the loader's own hash check
    # refuses it; 7.3: the kernel's signature check).
    python3 - "$dir/demo_signed.lskel.h" "$dir/demo_tampered.lskel.h" <<'PY'
import sys
s = open(sys.argv[1]).read().replace("demo_signed", "demo_tampered").replace("DEMO_SIGNED", "DEMO_TAMPERED")
start = s.index("static const char opts_data[]")
end = s.index('";', start)
# A zero byte in the middle of the data (BTF and program text; its first bytes hold fds the loader closes).
at = s.index("\\0\\", (start + end) // 2)
assert at < end
s = s[:at] + "\\x01" + s[at + 2:]
open(sys.argv[2], "w").write(s)
PY
    # The skeleton runtime (libbpf's skel_internal.h) must match the style: from 7.3 the loader's BPF_PROG_LOAD
    # binds its data map up front (fd_array_cnt = 1) and no longer asks for the map's hash. sid's libbpf-dev may
    # predate that: adapt its header then (the two changes libbpf 1.8 made).
    style=$(series "$1")
    cp "$tools/usr/include/bpf/"*.h "$dir/bpf/"
    if [ "$(printf '%s\n7.3\n' "$style" | sort -V | head -1)" = 7.3 ] && ! grep -q fd_array_cnt "$dir/bpf/skel_internal.h"; then
        python3 - "$dir/bpf/skel_internal.h" <<'PY'
import re, sys
p = sys.argv[1]; s = open(p).read()
call = re.search(r"\n\terr = skel_obj_get_info_by_fd\(map_fd\);\n\tif \(err < 0\) \{\n.*?\n\t\}\n", s, re.S)
sig = "\tattr.signature_size = opts->signature_sz;\n"
assert call and s.count(sig) == 1, "skel_internal.h: not the libbpf 1.7 layout this adapts"
s = s[:call.start()] + "\n" + s[call.end():]
s = s.replace(sig, sig + "\tif (opts->signature)\n\t\tattr.fd_array_cnt = 1;\n")
open(p, "w").write(s)
PY
    fi
    gcc -static -O2 -Wall -I"$dir" "${inc[@]}" -o "$out/disk/t/$name" "$here/../guest/lskel.c" \
        2> >(grep -v "statically linked applications" >&2)
    # The same loader signed for the gate, twice (different content): NAME-req is bound to a profile that
    # requires signed programs, NAME-full keeps `full` (the control).
    for n in req full; do
        { cat "$out/disk/t/$name"; printf '%s' "$n"; } >"$out/disk/t/$name-$n"; chmod +x "$out/disk/t/$name-$n"
        sign "$name-$n" signer
    done
}
build_lskel "$cache/sid-tools" lskel
build_lskel "$cache/trixie-backports-tools" lskel73
openssl x509 -in "$keys/signer.pem" -outform DER -out "$out/disk/t/signer.der"
openssl x509 -in "$keys/foreign.pem" -outform DER -out "$out/disk/t/foreign.der"

# Corrupt: flip one byte in the middle of the RSA signature value (near the end of the blob).
python3 - "$out/disk/sig/probe-corrupt.sig" <<'PY'
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)-40]^=0xff; open(p,'wb').write(b)
PY
head -c 100 "$out/disk/sig/probe-truncated.sig" >"$out/disk/sig/probe-truncated.sig.cut"
mv "$out/disk/sig/probe-truncated.sig.cut" "$out/disk/sig/probe-truncated.sig"
# A #! script whose interpreter is the signed loader.
printf '#!/mnt/t/probe-signed map\n' >"$out/disk/t/script"; chmod +x "$out/disk/t/script"
# Debian's bpftool, as a real third-party client: one signed copy, one not.
cp /usr/sbin/bpftool "$out/disk/t/bpftool-signed"; sign bpftool-signed signer
# Another signed copy (different content), which the profile tests bind to a read-only profile; and an object
# file for `bpftool prog load`.
{ cat /usr/sbin/bpftool; printf 'readonly'; } >"$out/disk/t/bpftool-ro"; chmod +x "$out/disk/t/bpftool-ro"
sign bpftool-ro signer
cp "$out/lskel/demo.bpf.o" "$out/disk/t/demo.bpf.o"
cp /usr/sbin/bpftool "$out/disk/t/bpftool"
# The rollout test's unsigned tools (besides bpftool and probe-unsigned): another static probe, and busybox as insmod.
{ cat "$out/bpfprobe"; printf 'rollout'; } >"$out/disk/t/probe-rollout"; chmod +x "$out/disk/t/probe-rollout"
cp /bin/busybox "$out/disk/t/insmod"
# A trusted shell toolbox: busybox applets run inside the signed busybox process (rm, mv, mount, umount).
cp /bin/busybox "$out/disk/t/busybox-signed"; sign busybox-signed signer

# Kernel-modifying operations: a dependency-free module for each test kernel, and a kernel image to kexec-load.
for suite in trixie sid trixie-backports; do
    [ -f "$cache/$suite/version" ] || continue
    ver=$(cat "$cache/$suite/version")
    mkdir -p "$out/disk/mod/$ver"
    xz -dc "$cache/$suite/modules/kernel/drivers/net/dummy.ko.xz" >"$out/disk/mod/$ver/dummy.ko"
    xz -dc "$cache/$suite/modules/kernel/fs/overlayfs/overlay.ko.xz" >"$out/disk/mod/$ver/overlay.ko"
    for m in sch_ingress cls_bpf; do  # tc's clsact qdisc and cls_bpf, for the tc attach test
        xz -dc "$cache/$suite/modules/kernel/net/sched/$m.ko.xz" >"$out/disk/mod/$ver/$m.ko"
    done
done
[ -f "$cache/trixie/vmlinuz" ] && cp "$cache/trixie/vmlinuz" "$out/disk/vmlinuz"

rm -f "$out/disk.img"
mkfs.ext4 -q -O verity,ea_inode -b 4096 -L bpfgate-test -d "$out/disk" "$out/disk.img" 96M

# Initramfs.
ir=$out/initramfs
mkdir -p "$ir"/{bin,sbin,proc,sys,dev,mnt,tmp,lib64,lib/x86_64-linux-gnu}
cp /bin/busybox "$ir/bin/busybox"
cp "$bpfgate" "$ir/bin/bpfgate"
cp "$out/bpfprobe" "$ir/bin/bpfprobe"
cp "$out/bpfbench" "$ir/bin/bpfbench"
cp "$(dirname "$bpfgate")/bpfgate-bench-hold" "$ir/bin/bpfgate-bench-hold"
cp "$(dirname "$bpfgate")/bpfgate-bench-minload" "$ir/bin/bpfgate-bench-minload"
cp "$(dirname "$bpfgate")/bpfgate-bench-floor" "$ir/bin/bpfgate-bench-floor"
for lib in $(ldd /usr/sbin/bpftool | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
    cp -L "$lib" "$ir$lib"
done
cp "$here/../guest/init.sh" "$ir/init"; chmod +x "$ir/init"
cp "$here/../guest/scenarios.sh" "$here/../guest/demo.sh" "$here/../guest/nolsm.sh" "$here/../guest/bench.sh" "$here/../guest/policy.sh" "$here/../guest/signed.sh" "$here/../guest/scale.sh" "$here/../guest/hold.sh" "$here/../guest/distro-prep.sh" "$here/../guest/rollout.sh" "$ir/"
(cd "$ir" && find . | cpio -o -H newc --quiet) >"$out/initramfs.cpio"

# Embedded init mode: an initramfs whose /init is bpfgate, and a real root it mounts by LABEL= or UUID=.
# With a policy file: the initramfs config layer, seen from the real root through `bpfgate status`.
printf '# init-mode test policy\nbpf.block = token_create\nkmod.allow = autoload\n' >"$out/init-policy.conf"
"$here/../../initramfs/mkinitramfs-bpfgate.sh" -o "$out/init-mode.cpio" -p "$out/init-policy.conf" "$bpfgate" >/dev/null
rr=$out/realroot
mkdir -p "$rr"/{bin,sbin,proc,sys,dev,tmp,root,t,sig}
cp /bin/busybox "$rr/bin/busybox"
cp "$bpfgate" "$rr/bin/bpfgate"
# /sbin/init is a signed bpfprobe (same content as probe-signed, so its signature), which checks PID 1's trust and
# bpf.block, then execs the reporting script /sbin/init.sh. fs-verity is enabled on it by a prep boot below.
cp "$here/../guest/realroot-init.sh" "$rr/sbin/init.sh"; chmod +x "$rr/sbin/init.sh"
cp "$out/disk/t/probe-signed" "$rr/sbin/init"
cp "$out/disk/t/probe-signed" "$out/disk/t/probe-unsigned" "$rr/t/"
cp "$out/disk/sig/probe-signed.sig" "$rr/sig/"
mkdir -p "$rr/var/lib/bpfgate-test"; echo "/sig/probe-signed.sig /sbin/init" >"$rr/var/lib/bpfgate-test/enroll.list"
mkfs.ext4 -q -O verity -b 4096 -L bpfgate-root -U 0bfa7e00-0000-4000-8000-000000000001 -d "$rr" "$out/realroot.img" 32M
"$here/../distro/prep.sh" "$out" "$out" realroot.img >/dev/null
echo "prepared $out: disk.img $(du -h "$out/disk.img" | cut -f1), initramfs.cpio $(du -h "$out/initramfs.cpio" | cut -f1)"
