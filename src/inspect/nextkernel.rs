//! `bpfgate doctor --kernel VERSION`: can the gate load when the machine next boots kernel VERSION? Read from what
//! is installed, not from the running kernel: that kernel's build configuration (`/boot/config-VERSION`, or
//! `/usr/lib/modules/VERSION/config` where Debian's 7.x packages put it), its version, the command line the
//! bootloader will pass (`/etc/kernel/cmdline`, else `/etc/default/grub`), the policy it will enforce and the trust
//! anchors this binary carries. The initramfs builders run it for each kernel they build an image for
//! (dracut/50bpfgate, initramfs/initramfs-tools/hooks/bpfgate): with `required = 1` a failure stops the build.
//! Its BTF (kfuncs, hooks) is checked by `doctor` once that kernel runs: the version stands in for it here.

use std::fs;
use std::path::{Path, PathBuf};

use super::doctor::{fail, info, ok, version, Finding};
use crate::policy::Policy;

/// Build options the gate needs, built in (`=y`), and what each is for.
pub const CONFIG_NEEDS: &[(&str, &str)] = &[
    ("CONFIG_BPF_SYSCALL", "the bpf() system call"),
    (
        "CONFIG_BPF_JIT",
        "BPF trampolines, which LSM programs attach through",
    ),
    ("CONFIG_SECURITY", "LSM hooks"),
    ("CONFIG_BPF_LSM", "the BPF LSM, which the gate is"),
    (
        "CONFIG_DEBUG_INFO_BTF",
        "kernel BTF, against which the gate's programs are checked and relocated",
    ),
    ("CONFIG_FS_VERITY", "fs-verity digests of signed files"),
    ("CONFIG_KEYS", "the keyrings that hold the trust anchors"),
    (
        "CONFIG_SYSTEM_DATA_VERIFICATION",
        "PKCS#7 signature checks (bpf_verify_pkcs7_signature)",
    ),
];

/// Where `doctor --kernel` looks, and what it was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub release: String,
    /// The root the kernel is installed in (`/`, or a chroot an image builder fills).
    pub root: PathBuf,
    /// The command line that kernel will boot with; None: discover it under `root`.
    pub cmdline: Option<String>,
}

/// A kernel's build configuration: `CONFIG_X` -> value (`y`, `m`, a quoted string, ...); unset options absent.
pub fn parse_config(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter(|l| l.starts_with("CONFIG_"))
        .filter_map(|l| l.split_once('='))
        .collect()
}

fn config_value<'a>(config: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    config
        .iter()
        .rev()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
}

/// The kernel's build configuration file under `root`, if it has one.
fn config_file(root: &Path, release: &str) -> Option<PathBuf> {
    [
        format!("boot/config-{release}"),
        format!("usr/lib/modules/{release}/config"),
        format!("lib/modules/{release}/config"),
    ]
    .into_iter()
    .map(|p| root.join(p))
    .find(|p| p.is_file())
}

/// One shell assignment `NAME="value"` (or 'value', or bare) of a grub defaults file, `$NAME`/`${NAME}` of the
/// same variable expanded to its value so far: `GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX lsm=..."` in
/// /etc/default/grub.d/*.cfg appends, as the shell would.
fn grub_assign(line: &str, name: &str, current: &str) -> Option<String> {
    let v = line.trim().strip_prefix(name)?.strip_prefix('=')?.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
        .unwrap_or(v);
    Some(
        v.replace(&format!("${{{name}}}"), current)
            .replace(&format!("${name}"), current),
    )
}

/// GRUB's command line from /etc/default/grub and /etc/default/grub.d/*.cfg (in name order, as update-grub reads
/// them): GRUB_CMDLINE_LINUX, then GRUB_CMDLINE_LINUX_DEFAULT (both go on a normal boot entry).
fn grub_cmdline(root: &Path) -> Option<String> {
    let mut files = vec![root.join("etc/default/grub")];
    if let Ok(dir) = fs::read_dir(root.join("etc/default/grub.d")) {
        let mut more: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
            .collect();
        more.sort();
        files.extend(more);
    }
    let (mut linux, mut default, mut seen) = (String::new(), String::new(), false);
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        for line in text.lines() {
            if let Some(v) = grub_assign(line, "GRUB_CMDLINE_LINUX", &linux) {
                (linux, seen) = (v, true);
            } else if let Some(v) = grub_assign(line, "GRUB_CMDLINE_LINUX_DEFAULT", &default) {
                (default, seen) = (v, true);
            }
        }
    }
    seen.then(|| format!("{linux} {default}").trim().to_string())
}

/// The command line kernel `t` will boot with, and where it came from.
fn cmdline(t: &Target) -> Option<(String, String)> {
    if let Some(c) = &t.cmdline {
        return Some((c.clone(), "--cmdline".into()));
    }
    let kernel_install = t.root.join("etc/kernel/cmdline");
    if let Ok(c) = fs::read_to_string(&kernel_install) {
        return Some((c.trim().to_string(), kernel_install.display().to_string()));
    }
    if let Some(c) = grub_cmdline(&t.root) {
        return Some((c, t.root.join("etc/default/grub").display().to_string()));
    }
    if t.root == Path::new("/") {
        if let Ok(c) = fs::read_to_string("/proc/cmdline") {
            return Some((c.trim().to_string(), "/proc/cmdline (this boot's)".into()));
        }
    }
    None
}

/// The value of the last `KEY=` word of a command line.
fn cmdline_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .rev()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// The policy kernel `t` will boot with: the baked one, the config file (`config`, default the root's
/// /etc/bpfgate/policy.conf; a missing one is none, an unreadable one an error), the command line it will get. Its
/// warnings are findings.
pub fn target_policy(
    t: &Target,
    config: Option<&Path>,
) -> Result<(Policy, Vec<Finding>), crate::error::Error> {
    let path = config.map_or_else(|| t.root.join("etc/bpfgate/policy.conf"), Path::to_path_buf);
    let line = cmdline(t).map(|(l, _)| l).unwrap_or_default();
    let (p, w) = crate::load::gate::policy_with(Some(&path), &line)?;
    let findings = w
        .list
        .iter()
        .map(|m| {
            fail(
                format!("policy: {m}"),
                "fix the policy (bpfgate policy shows it)",
            )
        })
        .collect();
    Ok((p, findings))
}

/// Every check for kernel `t`, given the policy it will enforce and the number of certificates baked into this
/// binary. Pure apart from reading files under `t.root`.
pub fn run(t: &Target, policy: &Policy, baked_certs: usize) -> Vec<Finding> {
    let mut out = Vec::new();
    let v = version(&t.release);
    match v {
        Some(v) if v >= (6, 12) => out.push(ok(format!("kernel {} (6.12 or newer)", t.release))),
        _ => out.push(fail(
            format!("kernel {:?}: bpfgate needs Linux 6.12 or newer", t.release),
            "install a 6.12 LTS or newer kernel",
        )),
    }
    let config_text = config_file(&t.root, &t.release).map(|p| (fs::read_to_string(&p), p));
    let config = match &config_text {
        Some((Ok(text), p)) => {
            out.push(info(format!("build configuration {}", p.display())));
            Some(parse_config(text))
        }
        Some((Err(e), p)) => {
            out.push(fail(format!("reading {}: {e}", p.display()), "run as root"));
            None
        }
        None => {
            out.push(fail(
                format!(
                    "no build configuration for {} under {} (boot/config-{0} or usr/lib/modules/{0}/config): \
                     what the kernel provides cannot be told",
                    t.release,
                    t.root.display()
                ),
                "install the kernel package's config file (Debian ships it), or check with `bpfgate doctor` \
                 once that kernel runs",
            ));
            None
        }
    };
    if let Some(config) = &config {
        let missing: Vec<String> = CONFIG_NEEDS
            .iter()
            .filter(|(k, _)| config_value(config, k) != Some("y"))
            .map(|(k, why)| format!("{k}=y ({why})"))
            .collect();
        if missing.is_empty() {
            out.push(ok(format!(
                "built with {}",
                CONFIG_NEEDS
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        } else {
            out.push(fail(
                format!(
                    "kernel {} is built without {}",
                    t.release,
                    missing.join(", ")
                ),
                "boot a kernel built with these options (Debian's cloud and generic kernels are)",
            ));
        }
    }
    // The BPF LSM must be active: an lsm= on the command line decides, else the built-in CONFIG_LSM.
    let line = cmdline(t);
    let built_in = config
        .as_ref()
        .and_then(|c| config_value(c, "CONFIG_LSM"))
        .map(|v| v.trim_matches('"').to_string());
    let lsm_word = line
        .as_ref()
        .and_then(|(l, from)| Some((cmdline_value(l, "lsm")?, from)));
    match lsm_word {
        Some((lsm, from)) if lsm.split(',').any(|x| x == "bpf") => {
            out.push(ok(format!("bpf is in the LSM list it boots with: lsm={lsm} ({from})")))
        }
        Some((lsm, from)) => out.push(fail(
            format!("the command line ({from}) sets lsm={lsm}, without bpf"),
            format!("make it lsm={lsm},bpf (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub)"),
        )),
        None => match &built_in {
            Some(lsm) if lsm.split(',').any(|x| x == "bpf") => out.push(ok(format!(
                "bpf is in the LSM list it boots with: built-in CONFIG_LSM={lsm}, no lsm= on the command line"
            ))),
            Some(lsm) => out.push(fail(
                format!("the BPF LSM is not in the built-in list CONFIG_LSM={lsm}, and the command line sets no lsm="),
                format!(
                    "add lsm={lsm},bpf to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then \
                     update-grub)"
                ),
            )),
            None => out.push(info(
                "the active LSM list cannot be told (no CONFIG_LSM in the configuration, no lsm= on the command line)",
            )),
        },
    }
    match &line {
        Some((l, from)) => {
            if cmdline_value(l, "bpfgate") == Some("off") {
                out.push(info(format!(
                    "the command line ({from}) has bpfgate=off: the gate will not load"
                )));
            }
        }
        None => out.push(info(
            "no bootloader command line found (/etc/kernel/cmdline, /etc/default/grub): pass --cmdline",
        )),
    }
    // What this binary and its policy need of any kernel.
    if baked_certs == 0 {
        out.push(fail(
            "this bpfgate binary carries no trust anchors (built without BPFGATE_CERTS): it refuses to load, \
             and a required gate stops the boot",
            "rebuild with the loaders' certificates: BPFGATE_CERTS=/path/cert.pem make, then make install",
        ));
    } else {
        out.push(ok(format!("{baked_certs} baked certificate(s)")));
    }
    // Program signing came with 6.18: the version stands in for the kernel's BTF here.
    if let Some(v) = v {
        out.extend(super::doctor::signing_profiles(policy, v >= (6, 18)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "CONFIG_BPF_SYSCALL=y\nCONFIG_BPF_JIT=y\nCONFIG_SECURITY=y\nCONFIG_BPF_LSM=y\n\
        CONFIG_DEBUG_INFO_BTF=y\nCONFIG_FS_VERITY=y\nCONFIG_KEYS=y\nCONFIG_SYSTEM_DATA_VERIFICATION=y\n\
        CONFIG_LSM=\"landlock,lockdown,yama,loadpin,safesetid,integrity,apparmor,selinux,smack,tomoyo,bpf\"\n";

    /// A root with /boot/config-RELEASE holding `config` and /etc/default/grub holding `grub`.
    fn root(release: &str, config: Option<&str>, grub: Option<&str>) -> (PathBuf, Target) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "bpfgate-nextkernel-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("boot")).unwrap();
        fs::create_dir_all(dir.join("etc/default")).unwrap();
        if let Some(c) = config {
            fs::write(dir.join(format!("boot/config-{release}")), c).unwrap();
        }
        if let Some(g) = grub {
            fs::write(dir.join("etc/default/grub"), g).unwrap();
        }
        let t = Target {
            release: release.into(),
            root: dir.clone(),
            cmdline: None,
        };
        (dir, t)
    }

    fn failures(f: &[Finding]) -> Vec<String> {
        f.iter()
            .filter(|f| f.ok == Some(false))
            .map(|f| f.what.clone())
            .collect()
    }

    #[test]
    fn a_good_kernel_passes() {
        let (dir, t) = root(
            "7.3.4+deb13-cloud-amd64",
            Some(GOOD),
            Some("GRUB_CMDLINE_LINUX=\"quiet\"\n"),
        );
        let f = run(&t, &Policy::default(), 2);
        assert!(failures(&f).is_empty(), "{f:?}");
        assert!(
            f.iter().any(|f| f.what.contains("built-in CONFIG_LSM=")),
            "{f:?}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn each_missing_piece_is_named() {
        let no_lsm = GOOD.replace("CONFIG_BPF_LSM=y\n", "# CONFIG_BPF_LSM is not set\n");
        let module = GOOD.replace("CONFIG_FS_VERITY=y", "CONFIG_FS_VERITY=m");
        let (p, _) = crate::policy::layered("profile.t.signed_programs = required", None, "");
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            usize,
            &'a Policy,
            &'a str,
        );
        let d = Policy::default();
        let cases: &[Case] = &[
            (
                "7.3.4",
                Some(&no_lsm),
                None,
                None,
                1,
                &d,
                "built without CONFIG_BPF_LSM=y (the BPF LSM",
            ),
            (
                "7.3.4",
                Some(&module),
                None,
                None,
                1,
                &d,
                "CONFIG_FS_VERITY=y",
            ),
            (
                "6.1.0-9-amd64",
                Some(GOOD),
                None,
                None,
                1,
                &d,
                "needs Linux 6.12 or newer",
            ),
            (
                "7.3.4",
                None,
                None,
                None,
                1,
                &d,
                "no build configuration for 7.3.4",
            ),
            (
                "7.3.4",
                Some(GOOD),
                Some("GRUB_CMDLINE_LINUX=\"lsm=apparmor,yama\"\n"),
                None,
                1,
                &d,
                "sets lsm=apparmor,yama, without bpf",
            ),
            (
                "7.3.4",
                Some(&GOOD.replace(",bpf\"", "\"")),
                None,
                None,
                1,
                &d,
                "not in the built-in list",
            ),
            ("7.3.4", Some(GOOD), None, None, 0, &d, "no trust anchors"),
            (
                "6.12.117",
                Some(GOOD),
                None,
                None,
                1,
                &p,
                "profile t requires signed programs",
            ),
        ];
        for (release, config, grub, line, certs, policy, want) in cases {
            let (dir, mut t) = root(release, *config, *grub);
            t.cmdline = line.map(str::to_string);
            let f = failures(&run(&t, policy, *certs));
            assert!(
                f.iter().any(|m| m.contains(want)),
                "{release} {want:?}: {f:?}"
            );
            fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn the_command_line_comes_from_the_bootloader_configuration() {
        let (dir, t) = root(
            "7.3.4",
            Some(&GOOD.replace(",bpf\"", "\"")),
            Some("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n"),
        );
        fs::create_dir_all(dir.join("etc/default/grub.d")).unwrap();
        fs::write(
            dir.join("etc/default/grub.d/bpfgate.cfg"),
            "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX lsm=landlock,yama,bpf\"\n",
        )
        .unwrap();
        let f = run(&t, &Policy::default(), 1);
        assert!(failures(&f).is_empty(), "{f:?}");
        assert!(
            f.iter().any(|f| f.what.contains("lsm=landlock,yama,bpf")),
            "{f:?}"
        );
        // /etc/kernel/cmdline (kernel-install, systemd-boot) wins over grub's.
        fs::create_dir_all(dir.join("etc/kernel")).unwrap();
        fs::write(
            dir.join("etc/kernel/cmdline"),
            "root=/dev/sda1 lsm=yama bpfgate=off\n",
        )
        .unwrap();
        let f = run(&t, &Policy::default(), 1);
        assert!(
            failures(&f)
                .iter()
                .any(|m| m.contains("lsm=yama, without bpf")),
            "{f:?}"
        );
        assert!(f.iter().any(|f| f.what.contains("bpfgate=off")), "{f:?}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn configs_parse_like_kconfig_writes_them() {
        let c = parse_config(
            "# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x,y\"\nCONFIG_A=m\n",
        );
        assert_eq!(config_value(&c, "CONFIG_A"), Some("m"));
        assert_eq!(config_value(&c, "CONFIG_B"), None);
        assert_eq!(config_value(&c, "CONFIG_C"), Some("\"x,y\""));
    }
}
