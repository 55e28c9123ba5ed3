//! The container's device rules, for the calls tiercel performs on a caller's behalf.
//!
//! The kernel checks access to a device node (open for reading or writing, `mknod`)
//! against the device cgroup of the *calling* task. An open or `mknod` that tiercel
//! performs runs in tiercel's own cgroup, which has no device restriction: without a
//! check of its own, a container that may create a block device node (Docker grants
//! `mknod` of every device) would get a writable fd on a host disk through tiercel.
//! So before it opens a character or block device, or creates one, tiercel applies the
//! rules the runtime put in the container's cgroup: the bundle's
//! `linux.resources.devices`, then the devices every runtime allows (runc's
//! `AllowedDevices`, minus those the bundle lists itself in `linux.devices`), evaluated
//! as runc evaluates them for cgroup v1 and v2 alike (its emulator: a rule for every
//! device resets the default; other rules add or remove exceptions to it, merged per
//! type and numbers; an access is allowed when an exception grants all of it, or by the
//! default). A refusal is `EPERM`, the kernel's errno for it.
//!
//! Without a readable bundle, only the runtime's defaults are allowed. A rule the
//! runtime would reject (an unknown type, bad access letters) makes the whole policy
//! the defaults-only one: tiercel never allows more than the runtime can have allowed.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// Read access (`r`).
pub const ACC_READ: u8 = 1;
/// Write access (`w`).
pub const ACC_WRITE: u8 = 2;
/// Creating the node (`m`).
pub const ACC_MKNOD: u8 = 4;
const ACC_ALL: u8 = ACC_READ | ACC_WRITE | ACC_MKNOD;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DevType {
    Char,
    Block,
}

impl DevType {
    /// The type of an inode's `st_mode`, when it is a device.
    pub fn of_mode(mode: u32) -> Option<DevType> {
        match mode & libc::S_IFMT {
            libc::S_IFCHR => Some(DevType::Char),
            libc::S_IFBLK => Some(DevType::Block),
            _ => None,
        }
    }
}

/// Type (None: every type, `a`), major and minor (None: `*`).
type Meta = (Option<DevType>, Option<u32>, Option<u32>);

/// One rule: which devices, which accesses, allow or deny.
#[derive(Debug, Clone, Copy)]
struct Rule {
    meta: Meta,
    perms: u8,
    allow: bool,
}

/// The device rules of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePolicy {
    default_allow: bool,
    /// Exceptions to the default, per type and numbers (never type `a`).
    exceptions: BTreeMap<(DevType, Option<u32>, Option<u32>), u8>,
}

/// runc's `AllowedDevices` (libcontainer/specconv), appended after the bundle's rules:
/// path (for the dedup against `linux.devices`), type, major, minor, access.
type DefaultRule = (&'static str, DevType, Option<u32>, Option<u32>, u8);
const RUNTIME_DEFAULTS: &[DefaultRule] = &[
    ("", DevType::Char, None, None, ACC_MKNOD),
    ("", DevType::Block, None, None, ACC_MKNOD),
    ("/dev/null", DevType::Char, Some(1), Some(3), ACC_ALL),
    ("/dev/random", DevType::Char, Some(1), Some(8), ACC_ALL),
    ("/dev/full", DevType::Char, Some(1), Some(7), ACC_ALL),
    ("/dev/tty", DevType::Char, Some(5), Some(0), ACC_ALL),
    ("/dev/zero", DevType::Char, Some(1), Some(5), ACC_ALL),
    ("/dev/urandom", DevType::Char, Some(1), Some(9), ACC_ALL),
    // /dev/pts/*
    ("", DevType::Char, Some(136), None, ACC_ALL),
    // /dev/ptmx
    ("", DevType::Char, Some(5), Some(2), ACC_ALL),
    // /dev/net/tun
    ("", DevType::Char, Some(10), Some(200), ACC_ALL),
];

fn parse_perms(s: &str) -> Option<u8> {
    let mut p = 0;
    for c in s.chars() {
        p |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => return None,
        };
    }
    (p != 0).then_some(p)
}

fn parse_num(v: Option<&Value>) -> Result<Option<u32>, ()> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(n) => match n.as_i64() {
            Some(-1) => Ok(None),
            Some(x) => u32::try_from(x).map(Some).map_err(|_| ()),
            None => Err(()),
        },
    }
}

fn parse_rule(v: &Value) -> Option<Rule> {
    let ty = match v.get("type").and_then(Value::as_str).unwrap_or("a") {
        "a" => None,
        "c" => Some(DevType::Char),
        "b" => Some(DevType::Block),
        _ => return None,
    };
    let major = parse_num(v.get("major")).ok()?;
    let minor = parse_num(v.get("minor")).ok()?;
    let perms = parse_perms(v.get("access").and_then(Value::as_str)?)?;
    // A missing `allow` is Go's zero value: a deny rule.
    let allow = match v.get("allow") {
        None | Some(Value::Null) => false,
        Some(b) => b.as_bool()?,
    };
    Some(Rule {
        meta: (ty, major, minor),
        perms,
        allow,
    })
}

impl Default for DevicePolicy {
    fn default() -> Self {
        DevicePolicy::runtime_defaults()
    }
}

impl DevicePolicy {
    fn empty() -> DevicePolicy {
        DevicePolicy {
            default_allow: false,
            exceptions: BTreeMap::new(),
        }
    }

    /// Every device denied but the runtime's defaults.
    pub fn runtime_defaults() -> DevicePolicy {
        DevicePolicy::from_rules(Vec::new(), &[])
    }

    fn from_rules(rules: Vec<Rule>, spec_paths: &[&str]) -> DevicePolicy {
        let mut p = DevicePolicy::empty();
        for r in rules {
            p.apply(r);
        }
        for &(path, ty, major, minor, perms) in RUNTIME_DEFAULTS {
            if !path.is_empty() && spec_paths.contains(&path) {
                continue;
            }
            p.apply(Rule {
                meta: (Some(ty), major, minor),
                perms,
                allow: true,
            });
        }
        p
    }

    /// The policy of a bundle's `config.json` (see the module documentation).
    pub fn from_config(config: &Value) -> DevicePolicy {
        let mut rules = Vec::new();
        if let Some(list) = config.pointer("/linux/resources/devices") {
            let Some(list) = list.as_array() else {
                return DevicePolicy::runtime_defaults();
            };
            for v in list {
                match parse_rule(v) {
                    Some(r) => rules.push(r),
                    None => return DevicePolicy::runtime_defaults(),
                }
            }
        }
        let spec_paths: Vec<&str> = config
            .pointer("/linux/devices")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|d| d.get("path").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        DevicePolicy::from_rules(rules, &spec_paths)
    }

    /// The policy of the bundle at `bundle` (its `config.json`, a regular file read up to
    /// a bound, never waited on); the runtime's defaults when it cannot be read.
    pub fn load(bundle: Option<&Path>) -> DevicePolicy {
        match bundle.and_then(|b| crate::engines::read_bundle_config(&b.join("config.json")).ok()) {
            Some(v) => DevicePolicy::from_config(&v),
            None => DevicePolicy::runtime_defaults(),
        }
    }

    fn apply(&mut self, r: Rule) {
        let (ty, major, minor) = r.meta;
        let Some(ty) = ty else {
            // `a`: every device; resets the default and drops every exception.
            self.default_allow = r.allow;
            self.exceptions.clear();
            return;
        };
        let key = (ty, major, minor);
        if r.allow != self.default_allow {
            *self.exceptions.entry(key).or_insert(0) |= r.perms;
        } else if let Some(p) = self.exceptions.get_mut(&key) {
            *p &= !r.perms;
            if *p == 0 {
                self.exceptions.remove(&key);
            }
        }
    }

    /// Whether `access` (a union of `ACC_*`) to the device `ty` `major:minor` is allowed.
    pub fn allows(&self, ty: DevType, major: u32, minor: u32, access: u8) -> bool {
        let hit = self.exceptions.iter().any(|(&(t, ma, mi), &perms)| {
            t == ty
                && ma.is_none_or(|m| m == major)
                && mi.is_none_or(|m| m == minor)
                && access & perms == access
        });
        if hit {
            !self.default_allow
        } else {
            self.default_allow
        }
    }

    /// The check of an open of a device with these `open` flags: the accesses the kernel
    /// asks the device cgroup for (`O_PATH` asks none).
    pub fn allows_open(&self, ty: DevType, major: u32, minor: u32, flags: u64) -> bool {
        let access = open_access(flags);
        access == 0 || self.allows(ty, major, minor, access)
    }
}

/// The device-cgroup accesses an open with `flags` needs (the kernel's `ACC_MODE`, plus
/// write for `O_TRUNC`).
pub fn open_access(flags: u64) -> u8 {
    if flags & libc::O_PATH as u64 != 0 {
        return 0;
    }
    let mut a = match flags & libc::O_ACCMODE as u64 {
        0 => ACC_READ,
        1 => ACC_WRITE,
        _ => ACC_READ | ACC_WRITE,
    };
    if flags & libc::O_TRUNC as u64 != 0 {
        a |= ACC_WRITE;
    }
    a
}

/// The major and minor of a 32-bit device number as system calls (`mknod`) and
/// `/proc/<pid>/stat`'s `tty_nr` encode it (the kernel's `new_decode_dev`).
pub fn new_decode_dev(dev: u32) -> (u32, u32) {
    ((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

/// A device number's major and minor (the kernel's `new_decode_dev`, glibc's
/// `major`/`minor`).
pub fn split_dev(dev: u64) -> (u32, u32) {
    (libc::major(dev), libc::minor(dev))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn without_rules_only_the_runtime_defaults() {
        let p = DevicePolicy::runtime_defaults();
        assert!(p.allows(DevType::Char, 1, 3, ACC_READ | ACC_WRITE));
        assert!(p.allows(DevType::Char, 136, 7, ACC_READ | ACC_WRITE));
        assert!(p.allows(DevType::Char, 5, 0, ACC_WRITE));
        // mknod of anything, but no open of a disk or /dev/kmsg.
        assert!(p.allows(DevType::Block, 7, 0, ACC_MKNOD));
        assert!(!p.allows(DevType::Block, 7, 0, ACC_READ));
        assert!(!p.allows(DevType::Block, 8, 0, ACC_WRITE));
        assert!(!p.allows(DevType::Char, 1, 11, ACC_READ));
        assert!(!p.allows(DevType::Char, 5, 1, ACC_READ));
    }

    #[test]
    fn docker_default_rules() {
        // Docker's default: deny all, then mknod of every char/block and the usual devices.
        let cfg = json!({"linux": {"resources": {"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
            {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
            {"allow": true, "type": "c", "access": "m"},
            {"allow": true, "type": "b", "access": "m"}
        ]}}});
        let p = DevicePolicy::from_config(&cfg);
        assert!(p.allows(DevType::Block, 7, 3, ACC_MKNOD));
        assert!(!p.allows(DevType::Block, 7, 3, ACC_READ | ACC_WRITE));
        assert!(!p.allows(DevType::Block, 7, 3, ACC_READ));
        assert!(p.allows(DevType::Char, 5, 1, ACC_WRITE));
        assert!(!p.allows(DevType::Char, 10, 229, ACC_READ));
        assert!(p.allows_open(DevType::Block, 7, 3, libc::O_PATH as u64));
        assert!(!p.allows_open(DevType::Block, 7, 3, libc::O_RDONLY as u64));
    }

    #[test]
    fn privileged_allows_everything_and_later_rules_win() {
        let p = DevicePolicy::from_config(&json!({"linux": {"resources": {"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "access": "rwm"}
        ]}}}));
        assert!(p.allows(DevType::Block, 8, 0, ACC_READ | ACC_WRITE));
        // A deny after an allow-all is an exception to it.
        let p = DevicePolicy::from_config(&json!({"linux": {"resources": {"devices": [
            {"allow": true, "access": "rwm"},
            {"allow": false, "type": "b", "major": 8, "access": "w"}
        ]}}}));
        assert!(p.allows(DevType::Block, 8, 1, ACC_READ));
        assert!(!p.allows(DevType::Block, 8, 1, ACC_WRITE));
        // An exception covers an access only as a whole (runc's program: `access & perms
        // == access`), in allow-all mode too: `rw` is not denied by a `w` exception.
        assert!(p.allows(DevType::Block, 8, 1, ACC_READ | ACC_WRITE));
        // No `allow`: a deny.
        let p = DevicePolicy::from_config(&json!({"linux": {"resources": {"devices": [
            {"allow": true, "access": "rwm"},
            {"type": "b", "major": 8, "access": "rw"}
        ]}}}));
        assert!(!p.allows(DevType::Block, 8, 1, ACC_READ));
    }

    #[test]
    fn an_access_must_be_granted_by_one_exception() {
        // r from one rule and w from another do not make rw (runc's eBPF program).
        let p = DevicePolicy::from_config(&json!({"linux": {"resources": {"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 42, "access": "r"},
            {"allow": true, "type": "c", "major": 42, "minor": 1, "access": "w"}
        ]}}}));
        assert!(p.allows(DevType::Char, 42, 1, ACC_READ));
        assert!(p.allows(DevType::Char, 42, 1, ACC_WRITE));
        assert!(!p.allows(DevType::Char, 42, 1, ACC_READ | ACC_WRITE));
        // A deny removes exactly the exception it names.
        let p = DevicePolicy::from_config(&json!({"linux": {"resources": {"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 42, "minor": 1, "access": "rw"},
            {"allow": false, "type": "c", "major": 42, "minor": 1, "access": "w"}
        ]}}}));
        assert!(p.allows(DevType::Char, 42, 1, ACC_READ));
        assert!(!p.allows(DevType::Char, 42, 1, ACC_WRITE));
    }

    #[test]
    fn a_device_the_bundle_lists_drops_the_default_rule_for_its_path() {
        let p = DevicePolicy::from_config(&json!({"linux": {
            "devices": [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}],
            "resources": {"devices": [{"allow": false, "access": "rwm"}]}
        }}));
        assert!(!p.allows(DevType::Char, 1, 3, ACC_READ));
        assert!(p.allows(DevType::Char, 1, 5, ACC_READ));
    }

    #[test]
    fn a_rule_the_runtime_would_refuse_gives_the_defaults_only() {
        for bad in [
            json!({"allow": true, "type": "x", "access": "rwm"}),
            json!({"allow": true, "type": "b", "access": "rwq"}),
            json!({"allow": true, "type": "b", "access": ""}),
            json!({"allow": "yes", "type": "b", "access": "rw"}),
            json!({"allow": true, "type": "b", "major": "8", "access": "rw"}),
        ] {
            let p = DevicePolicy::from_config(&json!({"linux": {"resources": {"devices": [
                {"allow": true, "access": "rwm"}, bad
            ]}}}));
            assert_eq!(p, DevicePolicy::runtime_defaults());
        }
    }

    #[test]
    fn open_accesses() {
        assert_eq!(open_access(libc::O_RDONLY as u64), ACC_READ);
        assert_eq!(open_access(libc::O_WRONLY as u64), ACC_WRITE);
        assert_eq!(open_access(libc::O_RDWR as u64), ACC_READ | ACC_WRITE);
        assert_eq!(open_access(3), ACC_READ | ACC_WRITE);
        assert_eq!(
            open_access((libc::O_RDONLY | libc::O_TRUNC) as u64),
            ACC_READ | ACC_WRITE
        );
        assert_eq!(open_access((libc::O_PATH | libc::O_RDWR) as u64), 0);
        assert_eq!(split_dev(libc::makedev(259, 70000)), (259, 70000));
        // 34816 = 136:0 (/dev/pts/0); 1025 = 4:1; 0x7_0203 = 7:0x702 (minor above 255).
        assert_eq!(new_decode_dev(34816), (136, 0));
        assert_eq!(new_decode_dev(1025), (4, 1));
        assert_eq!(new_decode_dev(0x0070_0703), (7, 0x703));
    }

    #[test]
    fn load_reads_the_bundle_or_falls_back() {
        let d = std::env::temp_dir().join(format!("tiercel-devices-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("config.json"),
            r#"{"linux":{"resources":{"devices":[{"allow":true,"access":"rwm"}]}}}"#,
        )
        .unwrap();
        assert!(DevicePolicy::load(Some(&d)).allows(DevType::Block, 8, 0, ACC_WRITE));
        std::fs::write(d.join("config.json"), "{not json").unwrap();
        assert_eq!(
            DevicePolicy::load(Some(&d)),
            DevicePolicy::runtime_defaults()
        );
        assert_eq!(DevicePolicy::load(None), DevicePolicy::runtime_defaults());
        let _ = std::fs::remove_dir_all(&d);
    }
}
