//! `container.*` and `k8s.*`: static per session (the OCI state, the bundle's
//! `config.json` annotations and mounts, the container's init process).

use tiercel_rules::event::{Field, FieldArg, Value};

use super::s;
use crate::event::builder::SyscallEvent;
use crate::event::container::find_mount;

impl SyscallEvent {
    pub(in crate::event) fn container_id(&self) -> &str {
        let id = self.ctx.container.id.as_str();
        if id.is_empty() {
            return "host";
        }
        // The first 12 characters (ids are hex; any other text is cut at a char boundary).
        match id.char_indices().nth(12) {
            Some((end, _)) => &id[..end],
            None => id,
        }
    }

    /// The `container` class: `None` for fields of other classes and fields this event has none of.
    pub(super) fn container_field(&self, name: Field, arg: &FieldArg) -> Option<Value<'_>> {
        match name {
            Field::ContainerId => s(self.container_id()),
            Field::ContainerFullId => s(self.ctx.container.id.as_str()),
            // engine metadata (container_meta.rs): the session's current record.
            Field::ContainerName
            | Field::ContainerImage
            | Field::ContainerImageRepository
            | Field::ContainerImageTag
            | Field::ContainerImageDigest
            | Field::ContainerImageId
            | Field::ContainerLabels
            | Field::ContainerLabel
            | Field::ContainerType => {
                let m = self.ctx.container.meta.load();
                s(match name {
                    Field::ContainerName => m.name.clone()?,
                    Field::ContainerImage => m.image.clone()?,
                    Field::ContainerImageRepository => m.image_repository.clone()?,
                    Field::ContainerImageTag => m.image_tag.clone()?,
                    Field::ContainerImageDigest => m.image_digest.clone()?,
                    Field::ContainerImageId => m.image_id.clone()?,
                    Field::ContainerLabels => m.labels_text()?,
                    Field::ContainerLabel => match arg {
                        FieldArg::Name(k) => m.labels.as_ref()?.get(&**k)?.clone(),
                        _ => return None,
                    },
                    _ if self.ctx.container.id.is_empty() => return None,
                    _ => m.engine?.to_string(),
                })
            }
            Field::ContainerPrivileged
            | Field::ContainerHostPid
            | Field::ContainerHostNetwork
            | Field::ContainerHostIpc => {
                let m = self.ctx.container.meta.load();
                Some(Value::Bool(match name {
                    Field::ContainerPrivileged => m.privileged?,
                    Field::ContainerHostPid => m.host_pid?,
                    Field::ContainerHostNetwork => m.host_network?,
                    _ => m.host_ipc?,
                }))
            }
            Field::ContainerMounts => {
                if self.ctx.container.id.is_empty() {
                    return None;
                }
                let meta = self.ctx.container.meta.load();
                let mounts = meta.mounts.as_deref().unwrap_or_else(|| self.ctx.mounts());
                let all: Vec<String> = mounts.iter().map(|m| m.render()).collect();
                s(all.join(","))
            }
            Field::ContainerMount
            | Field::ContainerMountSource
            | Field::ContainerMountDest
            | Field::ContainerMountMode
            | Field::ContainerMountRdwr
            | Field::ContainerMountPropagation => {
                if self.ctx.container.id.is_empty() {
                    return None;
                }
                // `container.mount.source[X]` looks X up among destinations; the others
                // among sources.
                let by_dest = name == Field::ContainerMountSource;
                let meta = self.ctx.container.meta.load();
                let mounts = meta.mounts.as_deref().unwrap_or_else(|| self.ctx.mounts());
                let Some(m) = find_mount(mounts, arg, by_dest) else {
                    return s("N/A");
                };
                s(match name {
                    Field::ContainerMount => m.render(),
                    Field::ContainerMountSource => m.source.clone(),
                    Field::ContainerMountDest => m.dest.clone(),
                    Field::ContainerMountMode => m.mode.clone(),
                    Field::ContainerMountRdwr => m.rdwr.to_string(),
                    _ => m.propagation.clone(),
                })
            }
            Field::ContainerStartTs => Some(Value::Time(self.ctx.container_start_ns()?)),
            Field::ContainerDuration => Some(Value::Time(
                self.ts_ns.saturating_sub(self.ctx.container_start_ns()?),
            )),
            Field::K8sNsName => s(self.ctx.annotation(&[
                "io.kubernetes.pod.namespace",
                "io.kubernetes.cri.sandbox-namespace",
            ])?),
            Field::K8sPodName => s(self
                .ctx
                .annotation(&["io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"])?),
            Field::K8sPodUid | Field::K8sPodId => s(self
                .ctx
                .annotation(&["io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"])?),
            Field::K8sPodSandboxId | Field::K8sPodFullSandboxId => {
                let id = self.ctx.annotation(&[
                    "io.kubernetes.cri.sandbox-id",
                    "io.kubernetes.cri-o.SandboxID",
                ])?;
                s(if name == Field::K8sPodSandboxId {
                    id.chars().take(12).collect()
                } else {
                    id.to_string()
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testutil::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn container_mount_fields() {
        let t = target("mounts");
        let pid = t.child.id();
        std::fs::write(
            t.dir.join("config.json"),
            r#"{"ociVersion":"1.0.2","mounts":[
                {"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/host/proc","type":"bind","source":"/proc","options":["rbind","ro","rslave"]},
                {"destination":"/data","source":"/srv/data","options":["bind"]},
                {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid"]}]}"#,
        )
        .unwrap();
        let mut b = EventBuilder::new(ContainerInfo {
            id: "abcdef0123456789".into(),
            bundle: Some(t.dir.to_string_lossy().into_owned()),
            ..Default::default()
        });
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"/etc/passwd");
        let ev = b
            .build(&notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]), &m)
            .unwrap();
        let name = |n: &str| FieldArg::Name(n.into());
        assert_eq!(
            get(&ev, "container.mounts").unwrap(),
            "/proc:/host/proc::false:rslave,/srv/data:/data::true:"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.dest", name("/proc*")).unwrap(),
            "/host/proc"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.dest", name("/var/run/docker.sock")).unwrap(),
            "N/A"
        );
        // The runtime's own proc mount (source "proc") is not a container mount.
        assert_eq!(
            get_arg(&ev, "container.mount.dest", name("proc")).unwrap(),
            "N/A"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.dest", FieldArg::Index(1)).unwrap(),
            "/data"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.source", name("/da*")).unwrap(),
            "/srv/data"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.rdwr", name("/proc")).unwrap(),
            "false"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.propagation", name("/proc")).unwrap(),
            "rslave"
        );
        assert_eq!(
            get_arg(&ev, "container.mount", FieldArg::Index(0)).unwrap(),
            "/proc:/host/proc::false:rslave"
        );
        // Through the rules engine: the upstream macro's shape.
        let mut loader = tiercel_rules::loader::Loader::new(Default::default());
        loader.add_str(
            "t.yaml",
            "- rule: m\n  desc: m\n  condition: evt.type = openat and (not container.mount.dest[/proc*] in (\"<NA>\",\"N/A\"))\n  output: m %container.mounts\n  priority: WARNING\n\
             - rule: n\n  desc: n\n  condition: evt.type = openat and not container.mount.dest[/var/run/docker.sock] in (\"<NA>\",\"N/A\")\n  output: n\n  priority: WARNING\n",
        );
        let program = loader.finish().program.expect("rules load");
        let mut out = Vec::new();
        program.eval(&ev, tiercel_rules::program::RuleMatching::All, &mut out);
        assert_eq!(out, vec![0]);
        // No config: no mounts, every lookup N/A.
        let mut b = EventBuilder::new(ContainerInfo {
            id: "abcdef0123456789".into(),
            ..Default::default()
        });
        let ev = b
            .build(&notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(
            get_arg(&ev, "container.mount.dest", name("/proc*")).unwrap(),
            "N/A"
        );
        assert_eq!(get(&ev, "container.mounts").unwrap(), "");
    }

    #[test]
    fn container_and_misc_fields() {
        let t = target("ctr");
        let pid = t.child.id();
        std::fs::write(
            t.dir.join("config.json"),
            r#"{"ociVersion":"1.0.2","annotations":{"io.kubernetes.pod.namespace":"kube-system","io.kubernetes.pod.name":"web-1","io.kubernetes.cri-o.Created":"x"}}"#,
        )
        .unwrap();
        // The session's metadata comes from the state's annotations (the same as config.json's).
        let meta = crate::container_meta::from_annotations(&crate::container_meta::Target {
            id: "abcdef0123456789".into(),
            bundle: None,
            annotations: [("io.kubernetes.cri-o.Created".to_string(), "x".to_string())].into(),
        });
        let mut b = EventBuilder::new(ContainerInfo {
            id: "abcdef0123456789".into(),
            meta: std::sync::Arc::new(crate::container_meta::MetaCell::new(meta)),
            init_pid: Some(pid),
            bundle: Some(t.dir.to_string_lossy().into_owned()),
        });
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"/etc/passwd");
        let ev = b
            .build(&notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "k8s.ns.name").unwrap(), "kube-system");
        assert_eq!(get(&ev, "k8s.pod.name").unwrap(), "web-1");
        assert_eq!(get(&ev, "container.type").unwrap(), "cri-o");
        let start: u64 = get(&ev, "container.start_ts").unwrap().parse().unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        assert!(
            start <= now && now - start < 120_000_000_000,
            "{start} {now}"
        );
        assert!(get(&ev, "container.name").is_none());
        assert_eq!(get(&ev, "evt.category").unwrap(), "file");
        assert_eq!(get(&ev, "proc.nthreads").unwrap(), "1");
        assert!(get(&ev, "thread.cgroups").unwrap().contains('='));
        assert!(get(&ev, "fd.types").unwrap().contains("file"));
        if get(&ev, "user.uid").unwrap() == "0" {
            assert_eq!(get(&ev, "user.homedir").unwrap(), "/root");
        }
        // No bundle: no annotations, no k8s fields.
        let mut b = builder();
        let ev = b
            .build(&notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]), &m)
            .unwrap();
        assert!(get(&ev, "k8s.ns.name").is_none());
        assert!(get(&ev, "container.start_ts").is_none());
    }
}
