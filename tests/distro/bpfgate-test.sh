#!/bin/sh
# Runs in the booted distro root (as a systemd service, so untrusted: /bin/sh is not signed). Prints "@@ NAME VALUE"
# observations for tests/vm.rs and powers off.
obs() { echo "@@ $*"; }
obs "booted kernel=$(uname -r)"
obs "distro_status $(bpfgate status 2>&1 | head -1)"
obs "distro_initrd $(cat /proc/cmdline | tr ' ' '\n' | grep -c bpfgate_distro)"
obs "distro_pid1 $(bpfgate check /proc/1/exe 2>&1)"
obs "distro_signed $(/usr/local/bin/probe-signed map 2>&1)"
obs "distro_unsigned $(/usr/local/bin/probe-unsigned map 2>&1)"
journalctl -b -o short-monotonic --no-pager >/tmp/journal 2>&1
obs "journal_gate $(grep -m1 'bpfgate: active' /tmp/journal)"
obs "journal_unit $(grep -m1 -E 'Finished bpfgate-initrd.service|bpfgate-initrd.service: Deactivated' /tmp/journal)"
obs "journal_sysroot $(grep -m1 -E 'Mounted sysroot.mount|Mounted /sysroot' /tmp/journal)"
obs "journal_nogate $(grep -m1 'booting WITHOUT the gate' /tmp/journal)"
obs "journal_root_unit $(grep -m1 -E 'Finished bpfgate.service|bpfgate.service: Deactivated|Skipped bpfgate.service|bpfgate.service - .*was skipped' /tmp/journal)"
obs "journal_sysinit $(grep -m1 'Reached target sysinit.target' /tmp/journal)"
obs "root_unit_state $(systemctl show -p ActiveState -p Result -p ConditionResult bpfgate.service | tr '\n' ' ')"
obs "journal_rootmount $(grep -m1 -E 'EXT4-fs \(nvme0n1\): mounted filesystem' /tmp/journal)"
# systemd's own BPF features: IPAddressDeny= is enforced by cgroup BPF programs PID 1 loads and attaches.
systemctl start ipdeny-test.service >/tmp/ipdeny 2>&1; obs "ipdeny_rc $?"
systemctl start ipallow-test.service >/tmp/ipallow 2>&1; obs "ipallow_rc $?"
echo tmpfs >/run/bpfgate-rfs-test
systemctl start rfsdeny-test.service >/tmp/rfsdeny 2>&1; obs "rfsdeny_rc $?"
systemctl start rfsallow-test.service >/tmp/rfsallow 2>&1; obs "rfsallow_rc $?"
obs "rfsdeny_journal $(journalctl -b -u rfsdeny-test.service --no-pager -o cat 2>&1 | tail -3 | tr '\n' ' ')"
systemctl start protect-test.service >/tmp/protect 2>&1; obs "protect_rc $? $(tr '\n' ' ' </tmp/protect)"
obs "ipdeny_journal $(journalctl -b -u ipdeny-test.service --no-pager -o cat 2>&1 | tail -3 | tr '\n' ' ')"
# A systemd package upgrade re-executes PID 1 (daemon-reexec): the new systemd must keep its trust, and with it
# the firewall of units started afterwards.
systemctl daemon-reexec >/tmp/reexec 2>&1; obs "reexec_rc $? $(tr '\n' ' ' </tmp/reexec)"
systemctl start ipdeny-test.service >/tmp/ipdeny 2>&1; obs "ipdeny_reexec_rc $?"
obs "pid1_bpf_warnings $(grep -c -iE 'bpf.*(not supported|operation not permitted|failed)' /tmp/journal)"
# The boot's log, before the package upgrades below add theirs (upgrade_log).
bpfgate log >/tmp/log.boot 2>&1
obs "distro_log $(tr '\n' '|' </tmp/log.boot)"
# Package upgrades with the real dpkg and apt: the hook `make install` put in /etc/dpkg/dpkg.cfg.d syncs the stores
# after each operation. v1 (dpkg) and v2 (apt) ship their signature in the packaged store, v3 none.
if grep -qw bpfgate_distro_dpkg /proc/cmdline; then
    L=/usr/sbin/demo-loader
    obs "dpkg_before $(/usr/local/bin/probe-unsigned map 2>&1)"
    dpkg -i /root/debs/demo-loader_1_amd64.deb >/tmp/dpkg1 2>&1; obs "dpkg_v1 rc=$? $(grep -i bpfgate /tmp/dpkg1 | tr '\n' '|')"
    obs "dpkg_v1_map $($L map 2>&1)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q /root/debs/demo-loader_2_amd64.deb >/tmp/apt2 2>&1
    obs "apt_v2 rc=$? $(grep -i bpfgate /tmp/apt2 | tr '\n' '|')"
    obs "apt_v2_map $($L map 2>&1)"
    obs "apt_v2_check $(bpfgate check $L 2>&1)"
    dpkg -i /root/debs/demo-loader_3_amd64.deb >/tmp/dpkg3 2>&1; obs "dpkg_v3 rc=$? $(grep -i bpfgate /tmp/dpkg3 | tr '\n' '|')"
    obs "dpkg_v3_map $($L map 2>&1)"
    obs "dpkg_v3_check $(bpfgate check $L 2>&1)"
    # systemd upgrades: rebuilt packages that ship their signatures. PID 1 must run the new binary, trusted:
    # IPAddressDeny= (cgroup BPF that PID 1 loads) still blocks. Untrusted-PID-1 refusals are counted per step.
    pid1() { echo "ino=$(stat -L -c %i /proc/1/exe) build=$(tail -c 20 /proc/1/exe | tr -dc 'a-z0-9-' | grep -o 'rebuild-[0-9]*')"; }
    untrusted_pid1() { bpfgate log | grep -c 'pid 1 (systemd.*: untrusted'; }
    obs "sd_before $(pid1) untrusted=$(untrusted_pid1)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q /root/debs/systemd_*+bpfgate1_amd64.deb \
        /root/debs/systemd-sysv_*+bpfgate1_amd64.deb >/tmp/apt-sd 2>&1
    obs "sd_apt rc=$? $(grep -i bpfgate /tmp/apt-sd | grep -v 'Unpacking\|Preparing\|Setting up\|Selecting' | tr '\n' '|')"
    obs "sd_apt_pid1 $(pid1) untrusted=$(untrusted_pid1)"
    obs "sd_apt_check $(bpfgate check /proc/1/exe 2>&1)"
    systemctl start ipdeny-test.service >/dev/null 2>&1; obs "sd_apt_ipdeny_rc $?"
    obs "sd_apt_after untrusted=$(untrusted_pid1)"
    dpkg -i /root/debs/systemd_*+bpfgate2_amd64.deb /root/debs/systemd-sysv_*+bpfgate2_amd64.deb >/tmp/dpkg-sd 2>&1
    obs "sd_dpkg rc=$? $(grep -i 'bpfgate:' /tmp/dpkg-sd | tr '\n' '|')"
    obs "sd_dpkg_pid1 $(pid1) untrusted=$(untrusted_pid1)"
    systemctl start ipdeny-test.service >/dev/null 2>&1; obs "sd_dpkg_ipdeny_rc $?"
    obs "sd_dpkg_after untrusted=$(untrusted_pid1)"
    obs "sd_check $(bpfgate check /proc/1/exe 2>&1)"
fi
obs "upgrade_log $(bpfgate log 2>&1 | tail -n +$(($(wc -l </tmp/log.boot) + 1)) | tr '\n' '|')"
obs "distro_status_json $(bpfgate status --json 2>&1)"
obs "done"
systemctl poweroff --no-block
