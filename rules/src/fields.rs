//! The field registry: Falco's field names, types, argument rules, and whether a
//! syscall-entry (seccomp) source can serve each one.
//!
//! Names, types and flags follow libsinsp's `filtercheck_field_info` tables
//! (`libsinsp/sinsp_filtercheck_{event,gen_event,fd,thread,user,group}.cpp`) and the
//! container plugin (`container.*`, `k8s.*`). A condition's field reference is resolved
//! once, at compile time, by [`resolve`] into a [`Field`] plus a [`FieldArg`]; the
//! evaluator never looks names up.
//!
//! Availability ([`Availability`]) records what an entry-time source can do with each
//! field (see the design's event model): exact at entry, "assume the call succeeds",
//! exit-only, kernel-derived (approximated), static per container, or not served.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Field flags (libsinsp `EPF_*`, plus tiercel's own).
pub mod flags {
    /// An argument is mandatory (`evt.arg.X`, `container.mount.dest[0]`).
    pub const ARG_REQUIRED: u32 = 1 << 0;
    /// An argument is optional (`proc.aname`, `proc.env`).
    pub const ARG_ALLOWED: u32 = 1 << 1;
    /// Numeric arguments are accepted (`proc.aname[2]`, `evt.arg[0]`).
    pub const ARG_INDEX: u32 = 1 << 2;
    /// Named arguments are accepted (`proc.env[HOME]`, `evt.arg[flags]`).
    pub const ARG_NAME: u32 = 1 << 3;
    /// The argument may also be written after a dot (`evt.arg.flags` ≡ `evt.arg[flags]`).
    pub const ARG_DOTTED: u32 = 1 << 4;
    /// Usable in filters only, not in outputs (`fd.ip`, `fd.net`).
    pub const FILTER_ONLY: u32 = 1 << 5;
    /// Cannot be used on the right-hand side with `val()`.
    pub const NO_RHS: u32 = 1 << 6;
    /// Cannot be wrapped in a transformer.
    pub const NO_TRANSFORMER: u32 = 1 << 7;
    /// List-valued (`fd.types`).
    pub const IS_LIST: u32 = 1 << 8;
    /// Deprecated: `LOAD_DEPRECATED_ITEM` warning when used.
    pub const DEPRECATED: u32 = 1 << 9;
    /// Only meaningful in outputs.
    pub const PRINT_ONLY: u32 = 1 << 10;
    /// Only meaningful in tables (sysdig views); accepted like any other field.
    pub const TABLE_ONLY: u32 = 1 << 11;
    /// Appended to every output by Falco's `suggested_output` (container plugin).
    pub const SUGGESTED: u32 = 1 << 12;
}

/// Falco's field types (`ppm_param_type`), reduced to what matters for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// CHARBUF / FSPATH / FSRELPATH
    String,
    ByteBuf,
    Uint64,
    Int64,
    Bool,
    IpAddr,
    IpNet,
    Port,
    AbsTime,
    RelTime,
    Double,
}

impl FieldType {
    /// libsinsp's type name (`PT_CHARBUF` ...), as `tiercel fields` prints it.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "CHARBUF",
            FieldType::ByteBuf => "BYTEBUF",
            FieldType::Uint64 => "UINT64",
            FieldType::Int64 => "INT64",
            FieldType::Bool => "BOOL",
            FieldType::IpAddr => "IPADDR",
            FieldType::IpNet => "IPNET",
            FieldType::Port => "PORT",
            FieldType::AbsTime => "ABSTIME",
            FieldType::RelTime => "RELTIME",
            FieldType::Double => "DOUBLE",
        }
    }

    /// Numeric types (compared as numbers; `<`, `>` allowed).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Uint64
                | FieldType::Int64
                | FieldType::Port
                | FieldType::AbsTime
                | FieldType::RelTime
                | FieldType::Double
        )
    }
}

/// What a syscall-entry source (seccomp user notification) can do with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Availability {
    /// Exact at entry: from the syscall arguments or /proc.
    Entry,
    /// At entry, assuming the call succeeds (`fd.num`, `evt.rawres`, `evt.res`).
    EntryAssumeSuccess,
    /// Needs the result or post-syscall state (`fd.lport` of connect, `fd.connected`).
    ExitOnly,
    /// Kernel-derived in Falco; approximated at entry (`proc.is_exe_upper_layer`).
    Kernel,
    /// Static per watched container (runtime metadata).
    Static,
    /// Not served by tiercel (plugin, scheduler or capture-only fields).
    NotServed,
}

impl Availability {
    pub fn name(self) -> &'static str {
        match self {
            Availability::Entry => "entry",
            Availability::EntryAssumeSuccess => "entry-assume-success",
            Availability::ExitOnly => "exit-only",
            Availability::Kernel => "kernel-derived",
            Availability::Static => "static",
            Availability::NotServed => "not-served",
        }
    }
}

/// A field, resolved at compile time. Event sources match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum Field {
    /// `evt.num`
    EvtNum,
    /// `evt.time`
    EvtTime,
    /// `evt.time.s`
    EvtTimeS,
    /// `evt.time.iso8601`
    EvtTimeIso8601,
    /// `evt.datetime`
    EvtDatetime,
    /// `evt.datetime.s`
    EvtDatetimeS,
    /// `evt.rawtime`
    EvtRawtime,
    /// `evt.rawtime.s`
    EvtRawtimeS,
    /// `evt.rawtime.ns`
    EvtRawtimeNs,
    /// `evt.reltime`
    EvtReltime,
    /// `evt.reltime.s`
    EvtReltimeS,
    /// `evt.reltime.ns`
    EvtReltimeNs,
    /// `evt.pluginname`
    EvtPluginname,
    /// `evt.plugininfo`
    EvtPlugininfo,
    /// `evt.source`
    EvtSource,
    /// `evt.is_async`
    EvtIsAsync,
    /// `evt.asynctype`
    EvtAsynctype,
    /// `evt.hostname`
    EvtHostname,
    /// `evt.latency`
    EvtLatency,
    /// `evt.latency.s`
    EvtLatencyS,
    /// `evt.latency.ns`
    EvtLatencyNs,
    /// `evt.latency.quantized`
    EvtLatencyQuantized,
    /// `evt.latency.human`
    EvtLatencyHuman,
    /// `evt.deltatime`
    EvtDeltatime,
    /// `evt.deltatime.s`
    EvtDeltatimeS,
    /// `evt.deltatime.ns`
    EvtDeltatimeNs,
    /// `evt.outputtime`
    EvtOutputtime,
    /// `evt.dir`
    EvtDir,
    /// `evt.type`
    EvtType,
    /// `evt.type.is`
    EvtTypeIs,
    /// `syscall.type`
    SyscallType,
    /// `evt.category`
    EvtCategory,
    /// `evt.cpu`
    EvtCpu,
    /// `evt.args`
    EvtArgs,
    /// `evt.arg`
    EvtArg,
    /// `evt.rawarg`
    EvtRawarg,
    /// `evt.info`
    EvtInfo,
    /// `evt.buffer`
    EvtBuffer,
    /// `evt.buflen`
    EvtBuflen,
    /// `evt.res`
    EvtRes,
    /// `evt.rawres`
    EvtRawres,
    /// `evt.failed`
    EvtFailed,
    /// `evt.is_io`
    EvtIsIo,
    /// `evt.is_io_read`
    EvtIsIoRead,
    /// `evt.is_io_write`
    EvtIsIoWrite,
    /// `evt.io_dir`
    EvtIoDir,
    /// `evt.is_wait`
    EvtIsWait,
    /// `evt.wait_latency`
    EvtWaitLatency,
    /// `evt.is_syslog`
    EvtIsSyslog,
    /// `evt.count`
    EvtCount,
    /// `evt.count.error`
    EvtCountError,
    /// `evt.count.error.file`
    EvtCountErrorFile,
    /// `evt.count.error.net`
    EvtCountErrorNet,
    /// `evt.count.error.memory`
    EvtCountErrorMemory,
    /// `evt.count.error.other`
    EvtCountErrorOther,
    /// `evt.count.exit`
    EvtCountExit,
    /// `evt.around`
    EvtAround,
    /// `evt.abspath`
    EvtAbspath,
    /// `evt.abspath.src`
    EvtAbspathSrc,
    /// `evt.abspath.dst`
    EvtAbspathDst,
    /// `evt.buflen.in`
    EvtBuflenIn,
    /// `evt.buflen.out`
    EvtBuflenOut,
    /// `evt.is_open_read`
    EvtIsOpenRead,
    /// `evt.is_open_write`
    EvtIsOpenWrite,
    /// `evt.is_open_exec`
    EvtIsOpenExec,
    /// `evt.is_open_create`
    EvtIsOpenCreate,
    /// `fd.num`
    FdNum,
    /// `fd.type`
    FdType,
    /// `fd.typechar`
    FdTypechar,
    /// `fd.name`
    FdName,
    /// `fd.directory`
    FdDirectory,
    /// `fd.filename`
    FdFilename,
    /// `fd.ip`
    FdIp,
    /// `fd.cip`
    FdCip,
    /// `fd.sip`
    FdSip,
    /// `fd.lip`
    FdLip,
    /// `fd.rip`
    FdRip,
    /// `fd.port`
    FdPort,
    /// `fd.cport`
    FdCport,
    /// `fd.sport`
    FdSport,
    /// `fd.lport`
    FdLport,
    /// `fd.rport`
    FdRport,
    /// `fd.l4proto`
    FdL4proto,
    /// `fd.sockfamily`
    FdSockfamily,
    /// `fd.is_server`
    FdIsServer,
    /// `fd.uid`
    FdUid,
    /// `fd.containername`
    FdContainername,
    /// `fd.containerdirectory`
    FdContainerdirectory,
    /// `fd.proto`
    FdProto,
    /// `fd.cproto`
    FdCproto,
    /// `fd.sproto`
    FdSproto,
    /// `fd.lproto`
    FdLproto,
    /// `fd.rproto`
    FdRproto,
    /// `fd.net`
    FdNet,
    /// `fd.cnet`
    FdCnet,
    /// `fd.snet`
    FdSnet,
    /// `fd.lnet`
    FdLnet,
    /// `fd.rnet`
    FdRnet,
    /// `fd.connected`
    FdConnected,
    /// `fd.name_changed`
    FdNameChanged,
    /// `fd.cip.name`
    FdCipName,
    /// `fd.sip.name`
    FdSipName,
    /// `fd.lip.name`
    FdLipName,
    /// `fd.rip.name`
    FdRipName,
    /// `fd.dev`
    FdDev,
    /// `fd.dev.major`
    FdDevMajor,
    /// `fd.dev.minor`
    FdDevMinor,
    /// `fd.ino`
    FdIno,
    /// `fd.nameraw`
    FdNameraw,
    /// `fd.types`
    FdTypes,
    /// `fs.path.name`
    FsPathName,
    /// `fs.path.nameraw`
    FsPathNameraw,
    /// `fs.path.source`
    FsPathSource,
    /// `fs.path.sourceraw`
    FsPathSourceraw,
    /// `fs.path.target`
    FsPathTarget,
    /// `fs.path.targetraw`
    FsPathTargetraw,
    /// `proc.exe`
    ProcExe,
    /// `proc.pexe`
    ProcPexe,
    /// `proc.aexe`
    ProcAexe,
    /// `proc.exepath`
    ProcExepath,
    /// `proc.pexepath`
    ProcPexepath,
    /// `proc.aexepath`
    ProcAexepath,
    /// `proc.name`
    ProcName,
    /// `proc.pname`
    ProcPname,
    /// `proc.aname`
    ProcAname,
    /// `proc.args`
    ProcArgs,
    /// `proc.cmdline`
    ProcCmdline,
    /// `proc.pcmdline`
    ProcPcmdline,
    /// `proc.acmdline`
    ProcAcmdline,
    /// `proc.cmdnargs`
    ProcCmdnargs,
    /// `proc.cmdlenargs`
    ProcCmdlenargs,
    /// `proc.exeline`
    ProcExeline,
    /// `proc.env`
    ProcEnv,
    /// `proc.aenv`
    ProcAenv,
    /// `proc.cwd`
    ProcCwd,
    /// `proc.loginshellid`
    ProcLoginshellid,
    /// `proc.tty`
    ProcTty,
    /// `proc.pid`
    ProcPid,
    /// `proc.ppid`
    ProcPpid,
    /// `proc.apid`
    ProcApid,
    /// `proc.vpid`
    ProcVpid,
    /// `proc.pvpid`
    ProcPvpid,
    /// `proc.sid`
    ProcSid,
    /// `proc.sname`
    ProcSname,
    /// `proc.sid.exe`
    ProcSidExe,
    /// `proc.sid.exepath`
    ProcSidExepath,
    /// `proc.vpgid`
    ProcVpgid,
    /// `proc.vpgid.name`
    ProcVpgidName,
    /// `proc.vpgid.exe`
    ProcVpgidExe,
    /// `proc.vpgid.exepath`
    ProcVpgidExepath,
    /// `proc.duration`
    ProcDuration,
    /// `proc.ppid.duration`
    ProcPpidDuration,
    /// `proc.pid.ts`
    ProcPidTs,
    /// `proc.ppid.ts`
    ProcPpidTs,
    /// `proc.is_exe_writable`
    ProcIsExeWritable,
    /// `proc.is_exe_upper_layer`
    ProcIsExeUpperLayer,
    /// `proc.is_exe_from_memfd`
    ProcIsExeFromMemfd,
    /// `proc.is_sid_leader`
    ProcIsSidLeader,
    /// `proc.is_vpgid_leader`
    ProcIsVpgidLeader,
    /// `proc.exe_ino`
    ProcExeIno,
    /// `proc.exe_ino.ctime`
    ProcExeInoCtime,
    /// `proc.exe_ino.mtime`
    ProcExeInoMtime,
    /// `proc.exe_ino.ctime_duration_proc_start`
    ProcExeInoCtimeDurationProcStart,
    /// `proc.exe_ino.ctime_duration_pidns_start`
    ProcExeInoCtimeDurationPidnsStart,
    /// `proc.pidns_init_start_ts`
    ProcPidnsInitStartTs,
    /// `thread.cap_permitted`
    ThreadCapPermitted,
    /// `thread.cap_inheritable`
    ThreadCapInheritable,
    /// `thread.cap_effective`
    ThreadCapEffective,
    /// `proc.is_container_healthcheck`
    ProcIsContainerHealthcheck,
    /// `proc.is_container_liveness_probe`
    ProcIsContainerLivenessProbe,
    /// `proc.is_container_readiness_probe`
    ProcIsContainerReadinessProbe,
    /// `proc.fdopencount`
    ProcFdopencount,
    /// `proc.fdlimit`
    ProcFdlimit,
    /// `proc.fdusage`
    ProcFdusage,
    /// `proc.vmsize`
    ProcVmsize,
    /// `proc.vmrss`
    ProcVmrss,
    /// `proc.vmswap`
    ProcVmswap,
    /// `thread.pfmajor`
    ThreadPfmajor,
    /// `thread.pfminor`
    ThreadPfminor,
    /// `thread.tid`
    ThreadTid,
    /// `thread.ismain`
    ThreadIsmain,
    /// `thread.vtid`
    ThreadVtid,
    /// `thread.nametid`
    ThreadNametid,
    /// `thread.exectime`
    ThreadExectime,
    /// `thread.totexectime`
    ThreadTotexectime,
    /// `thread.cgroups`
    ThreadCgroups,
    /// `thread.cgroup`
    ThreadCgroup,
    /// `proc.nthreads`
    ProcNthreads,
    /// `proc.nchilds`
    ProcNchilds,
    /// `thread.cpu`
    ThreadCpu,
    /// `thread.cpu.user`
    ThreadCpuUser,
    /// `thread.cpu.system`
    ThreadCpuSystem,
    /// `thread.vmsize`
    ThreadVmsize,
    /// `thread.vmrss`
    ThreadVmrss,
    /// `user.uid`
    UserUid,
    /// `user.name`
    UserName,
    /// `user.homedir`
    UserHomedir,
    /// `user.shell`
    UserShell,
    /// `user.loginuid`
    UserLoginuid,
    /// `user.loginname`
    UserLoginname,
    /// `group.gid`
    GroupGid,
    /// `group.name`
    GroupName,
    /// `container.id`
    ContainerId,
    /// `container.full_id`
    ContainerFullId,
    /// `container.name`
    ContainerName,
    /// `container.image`
    ContainerImage,
    /// `container.image.id`
    ContainerImageId,
    /// `container.type`
    ContainerType,
    /// `container.privileged`
    ContainerPrivileged,
    /// `container.mounts`
    ContainerMounts,
    /// `container.mount`
    ContainerMount,
    /// `container.mount.source`
    ContainerMountSource,
    /// `container.mount.dest`
    ContainerMountDest,
    /// `container.mount.mode`
    ContainerMountMode,
    /// `container.mount.rdwr`
    ContainerMountRdwr,
    /// `container.mount.propagation`
    ContainerMountPropagation,
    /// `container.image.repository`
    ContainerImageRepository,
    /// `container.image.tag`
    ContainerImageTag,
    /// `container.image.digest`
    ContainerImageDigest,
    /// `container.healthcheck`
    ContainerHealthcheck,
    /// `container.liveness_probe`
    ContainerLivenessProbe,
    /// `container.readiness_probe`
    ContainerReadinessProbe,
    /// `container.start_ts`
    ContainerStartTs,
    /// `container.duration`
    ContainerDuration,
    /// `container.ip`
    ContainerIp,
    /// `container.cni.json`
    ContainerCniJson,
    /// `container.host_pid`
    ContainerHostPid,
    /// `container.host_network`
    ContainerHostNetwork,
    /// `container.host_ipc`
    ContainerHostIpc,
    /// `container.label`
    ContainerLabel,
    /// `container.labels`
    ContainerLabels,
    /// `k8s.pod.name`
    K8sPodName,
    /// `k8s.pod.id`
    K8sPodId,
    /// `k8s.pod.uid`
    K8sPodUid,
    /// `k8s.pod.sandbox_id`
    K8sPodSandboxId,
    /// `k8s.pod.full_sandbox_id`
    K8sPodFullSandboxId,
    /// `k8s.pod.label`
    K8sPodLabel,
    /// `k8s.pod.labels`
    K8sPodLabels,
    /// `k8s.pod.ip`
    K8sPodIp,
    /// `k8s.pod.cni.json`
    K8sPodCniJson,
    /// `k8s.ns.name`
    K8sNsName,
}

/// The argument of a field reference, checked against the field's argument rule at
/// compile time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldArg {
    /// No argument (`proc.aname`).
    None,
    /// A numeric argument (`proc.aname[2]`, `proc.args[1]`).
    Index(i64),
    /// A named argument (`evt.arg.flags` / `evt.arg[flags]`, `proc.env[HOME]`).
    Name(Box<str>),
}

/// Static description of one field.
#[derive(Debug)]
pub struct FieldInfo {
    pub field: Field,
    pub name: &'static str,
    pub ftype: FieldType,
    pub desc: &'static str,
    /// [`flags`] bits.
    pub flags: u32,
    pub availability: Availability,
}

impl FieldInfo {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
    pub fn arg_required(&self) -> bool {
        self.has(flags::ARG_REQUIRED)
    }
    pub fn arg_allowed(&self) -> bool {
        self.has(flags::ARG_REQUIRED | flags::ARG_ALLOWED)
    }
    pub fn is_list(&self) -> bool {
        self.has(flags::IS_LIST)
    }
    pub fn deprecated(&self) -> bool {
        self.has(flags::DEPRECATED)
    }
}

#[rustfmt::skip]
static FIELDS: &[FieldInfo] = &[
    FieldInfo { field: Field::EvtNum, name: "evt.num", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "event number." },
    FieldInfo { field: Field::EvtTime, name: "evt.time", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "event timestamp as a time string that includes the nanosecond part (HH:MM:SS.nnnnnnnnn)." },
    FieldInfo { field: Field::EvtTimeS, name: "evt.time.s", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "event timestamp as a time string with no nanoseconds." },
    FieldInfo { field: Field::EvtTimeIso8601, name: "evt.time.iso8601", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "event timestamp in ISO 8601 format, including nanoseconds and time zone offset (in UTC)." },
    FieldInfo { field: Field::EvtDatetime, name: "evt.datetime", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "event timestamp as a time string that includes the date." },
    FieldInfo { field: Field::EvtDatetimeS, name: "evt.datetime.s", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "event timestamp as a datetime string with no nanoseconds." },
    FieldInfo { field: Field::EvtRawtime, name: "evt.rawtime", ftype: FieldType::AbsTime, flags: 0, availability: Availability::Entry, desc: "absolute event timestamp, i.e. nanoseconds from epoch." },
    FieldInfo { field: Field::EvtRawtimeS, name: "evt.rawtime.s", ftype: FieldType::AbsTime, flags: 0, availability: Availability::Entry, desc: "integer part of the event timestamp (e.g. seconds since epoch)." },
    FieldInfo { field: Field::EvtRawtimeNs, name: "evt.rawtime.ns", ftype: FieldType::AbsTime, flags: 0, availability: Availability::Entry, desc: "fractional part of the absolute event timestamp." },
    FieldInfo { field: Field::EvtReltime, name: "evt.reltime", ftype: FieldType::RelTime, flags: 0, availability: Availability::Entry, desc: "number of nanoseconds from the beginning of the capture." },
    FieldInfo { field: Field::EvtReltimeS, name: "evt.reltime.s", ftype: FieldType::RelTime, flags: 0, availability: Availability::Entry, desc: "number of seconds from the beginning of the capture." },
    FieldInfo { field: Field::EvtReltimeNs, name: "evt.reltime.ns", ftype: FieldType::RelTime, flags: 0, availability: Availability::Entry, desc: "fractional part (in ns) of the time from the beginning of the capture." },
    FieldInfo { field: Field::EvtPluginname, name: "evt.pluginname", ftype: FieldType::String, flags: 0, availability: Availability::NotServed, desc: "if the event comes from a plugin-defined event source, the name of the plugin that generated it." },
    FieldInfo { field: Field::EvtPlugininfo, name: "evt.plugininfo", ftype: FieldType::String, flags: 0, availability: Availability::NotServed, desc: "if the event comes from a plugin-defined event source, a summary of the event as formatted by the plugin." },
    FieldInfo { field: Field::EvtSource, name: "evt.source", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "the name of the source that produced the event (syscall)." },
    FieldInfo { field: Field::EvtIsAsync, name: "evt.is_async", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' for asynchronous events, 'false' otherwise." },
    FieldInfo { field: Field::EvtAsynctype, name: "evt.asynctype", ftype: FieldType::String, flags: 0, availability: Availability::NotServed, desc: "If the event is asynchronous, the type of the event (e.g. 'container')." },
    FieldInfo { field: Field::EvtHostname, name: "evt.hostname", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The hostname of the underlying host." },
    FieldInfo { field: Field::EvtLatency, name: "evt.latency", ftype: FieldType::RelTime, flags: flags::DEPRECATED, availability: Availability::NotServed, desc: "delta between an exit event and the correspondent enter event, in nanoseconds." },
    FieldInfo { field: Field::EvtLatencyS, name: "evt.latency.s", ftype: FieldType::RelTime, flags: flags::DEPRECATED, availability: Availability::NotServed, desc: "integer part of the event latency delta." },
    FieldInfo { field: Field::EvtLatencyNs, name: "evt.latency.ns", ftype: FieldType::RelTime, flags: flags::DEPRECATED, availability: Availability::NotServed, desc: "fractional part of the event latency delta." },
    FieldInfo { field: Field::EvtLatencyQuantized, name: "evt.latency.quantized", ftype: FieldType::Uint64, flags: flags::DEPRECATED, availability: Availability::NotServed, desc: "10-base log of the delta between an exit event and the correspondent enter event." },
    FieldInfo { field: Field::EvtLatencyHuman, name: "evt.latency.human", ftype: FieldType::String, flags: flags::DEPRECATED, availability: Availability::NotServed, desc: "delta between an exit event and the correspondent enter event, as a human readable string (e.g. 10.3ms)." },
    FieldInfo { field: Field::EvtDeltatime, name: "evt.deltatime", ftype: FieldType::RelTime, flags: 0, availability: Availability::NotServed, desc: "delta between this event and the previous event, in nanoseconds." },
    FieldInfo { field: Field::EvtDeltatimeS, name: "evt.deltatime.s", ftype: FieldType::RelTime, flags: 0, availability: Availability::NotServed, desc: "integer part of the delta between this event and the previous event." },
    FieldInfo { field: Field::EvtDeltatimeNs, name: "evt.deltatime.ns", ftype: FieldType::RelTime, flags: 0, availability: Availability::NotServed, desc: "fractional part of the delta between this event and the previous event." },
    FieldInfo { field: Field::EvtOutputtime, name: "evt.outputtime", ftype: FieldType::String, flags: flags::PRINT_ONLY, availability: Availability::Entry, desc: "this depends on -t param, default is %evt.time ('h')." },
    FieldInfo { field: Field::EvtDir, name: "evt.dir", ftype: FieldType::String, flags: flags::DEPRECATED, availability: Availability::Entry, desc: "event direction: always '<' (exit) since libs 0.22; tiercel reports '<' for every event." },
    FieldInfo { field: Field::EvtType, name: "evt.type", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The name of the event (e.g. 'open')." },
    FieldInfo { field: Field::EvtTypeIs, name: "evt.type.is", ftype: FieldType::Uint64, flags: flags::ARG_REQUIRED | flags::ARG_NAME | flags::ARG_DOTTED, availability: Availability::Entry, desc: "returns 1 for events of the type named after the dot (evt.type.is.open), 0 otherwise." },
    FieldInfo { field: Field::SyscallType, name: "syscall.type", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "For system call events, the name of the system call (e.g. 'open')." },
    FieldInfo { field: Field::EvtCategory, name: "evt.category", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The event category ('file', 'net', 'process' ...)." },
    FieldInfo { field: Field::EvtCpu, name: "evt.cpu", ftype: FieldType::Int64, flags: 0, availability: Availability::NotServed, desc: "number of the CPU where this event happened." },
    FieldInfo { field: Field::EvtArgs, name: "evt.args", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "all the event arguments, aggregated into a single string (exit-event parameters, rendered)." },
    FieldInfo { field: Field::EvtArg, name: "evt.arg", ftype: FieldType::String, flags: flags::ARG_REQUIRED | flags::ARG_INDEX | flags::ARG_NAME | flags::ARG_DOTTED, availability: Availability::Entry, desc: "one of the event arguments specified by name or by number (evt.arg.fd, evt.arg[0]), rendered as text." },
    FieldInfo { field: Field::EvtRawarg, name: "evt.rawarg", ftype: FieldType::Int64, flags: flags::ARG_REQUIRED | flags::ARG_NAME | flags::ARG_DOTTED, availability: Availability::Entry, desc: "one of the event arguments specified by name, raw (evt.rawarg.fd)." },
    FieldInfo { field: Field::EvtInfo, name: "evt.info", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "for most events the same value as evt.args." },
    FieldInfo { field: Field::EvtBuffer, name: "evt.buffer", ftype: FieldType::ByteBuf, flags: 0, availability: Availability::ExitOnly, desc: "the binary data buffer for events that have one, like read(), recvfrom(), etc." },
    FieldInfo { field: Field::EvtBuflen, name: "evt.buflen", ftype: FieldType::Uint64, flags: 0, availability: Availability::ExitOnly, desc: "the length of the binary data buffer for events that have one." },
    FieldInfo { field: Field::EvtRes, name: "evt.res", ftype: FieldType::String, flags: 0, availability: Availability::EntryAssumeSuccess, desc: "event return value, as a string: 'SUCCESS' or an error code string (e.g. 'ENOENT')." },
    FieldInfo { field: Field::EvtRawres, name: "evt.rawres", ftype: FieldType::Int64, flags: 0, availability: Availability::EntryAssumeSuccess, desc: "event return value, as a number (e.g. -2)." },
    FieldInfo { field: Field::EvtFailed, name: "evt.failed", ftype: FieldType::Bool, flags: 0, availability: Availability::EntryAssumeSuccess, desc: "'true' for events that returned an error status." },
    FieldInfo { field: Field::EvtIsIo, name: "evt.is_io", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' for events that read or write to FDs." },
    FieldInfo { field: Field::EvtIsIoRead, name: "evt.is_io_read", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' for events that read from FDs." },
    FieldInfo { field: Field::EvtIsIoWrite, name: "evt.is_io_write", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' for events that write to FDs." },
    FieldInfo { field: Field::EvtIoDir, name: "evt.io_dir", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "'r' for events that read from FDs, 'w' for events that write to FDs." },
    FieldInfo { field: Field::EvtIsWait, name: "evt.is_wait", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' for events that make the thread wait, e.g. sleep(), select(), poll()." },
    FieldInfo { field: Field::EvtWaitLatency, name: "evt.wait_latency", ftype: FieldType::RelTime, flags: flags::DEPRECATED, availability: Availability::NotServed, desc: "for events that make the thread wait, the time spent waiting, in nanoseconds." },
    FieldInfo { field: Field::EvtIsSyslog, name: "evt.is_syslog", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' for events that are writes to /dev/log." },
    FieldInfo { field: Field::EvtCount, name: "evt.count", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "always 1." },
    FieldInfo { field: Field::EvtCountError, name: "evt.count.error", ftype: FieldType::Uint64, flags: 0, availability: Availability::EntryAssumeSuccess, desc: "1 for events that returned with an error." },
    FieldInfo { field: Field::EvtCountErrorFile, name: "evt.count.error.file", ftype: FieldType::Uint64, flags: 0, availability: Availability::EntryAssumeSuccess, desc: "1 for file events that returned with an error." },
    FieldInfo { field: Field::EvtCountErrorNet, name: "evt.count.error.net", ftype: FieldType::Uint64, flags: 0, availability: Availability::EntryAssumeSuccess, desc: "1 for network events that returned with an error." },
    FieldInfo { field: Field::EvtCountErrorMemory, name: "evt.count.error.memory", ftype: FieldType::Uint64, flags: 0, availability: Availability::EntryAssumeSuccess, desc: "1 for memory events that returned with an error." },
    FieldInfo { field: Field::EvtCountErrorOther, name: "evt.count.error.other", ftype: FieldType::Uint64, flags: 0, availability: Availability::EntryAssumeSuccess, desc: "1 for other events that returned with an error." },
    FieldInfo { field: Field::EvtCountExit, name: "evt.count.exit", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "1 for exit events." },
    FieldInfo { field: Field::EvtAround, name: "evt.around", ftype: FieldType::Uint64, flags: flags::FILTER_ONLY | flags::NO_RHS | flags::ARG_REQUIRED | flags::ARG_INDEX, availability: Availability::NotServed, desc: "Accepts the event if it's around the specified time interval (evt.around[T]=D)." },
    FieldInfo { field: Field::EvtAbspath, name: "evt.abspath", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "Absolute path calculated from dirfd and name during syscalls like renameat and symlinkat." },
    FieldInfo { field: Field::EvtAbspathSrc, name: "evt.abspath.src", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "Absolute source path calculated from dirfd and name (renameat, linkat ...)." },
    FieldInfo { field: Field::EvtAbspathDst, name: "evt.abspath.dst", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "Absolute destination path calculated from dirfd and name (renameat, linkat ...)." },
    FieldInfo { field: Field::EvtBuflenIn, name: "evt.buflen.in", ftype: FieldType::Uint64, flags: flags::TABLE_ONLY, availability: Availability::ExitOnly, desc: "the length of the binary data buffer, but only for input I/O events." },
    FieldInfo { field: Field::EvtBuflenOut, name: "evt.buflen.out", ftype: FieldType::Uint64, flags: flags::TABLE_ONLY, availability: Availability::ExitOnly, desc: "the length of the binary data buffer, but only for output I/O events." },
    FieldInfo { field: Field::EvtIsOpenRead, name: "evt.is_open_read", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' for open/openat/openat2/open_by_handle_at events where the path was opened for reading." },
    FieldInfo { field: Field::EvtIsOpenWrite, name: "evt.is_open_write", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' for open/openat/openat2/open_by_handle_at events where the path was opened for writing." },
    FieldInfo { field: Field::EvtIsOpenExec, name: "evt.is_open_exec", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' for open/openat/openat2/open_by_handle_at or creat events where a file is created with execute permissions." },
    FieldInfo { field: Field::EvtIsOpenCreate, name: "evt.is_open_create", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' for open/openat/openat2/open_by_handle_at events where a file is created." },
    FieldInfo { field: Field::FdNum, name: "fd.num", ftype: FieldType::Int64, flags: 0, availability: Availability::EntryAssumeSuccess, desc: "the unique number identifying the file descriptor (for open*: the returned fd, assumed to succeed at entry)." },
    FieldInfo { field: Field::FdType, name: "fd.type", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "type of FD: 'file', 'directory', 'ipv4', 'ipv6', 'unix', 'pipe', 'event', 'signalfd', 'eventpoll', 'inotify', 'memfd' ..." },
    FieldInfo { field: Field::FdTypechar, name: "fd.typechar", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "type of FD as a single character: 'f' file, 4/6 IPv4/IPv6 socket, 'u' unix socket, 'p' pipe ..." },
    FieldInfo { field: Field::FdName, name: "fd.name", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "FD full name: absolute normalized path for files, connection tuple for sockets." },
    FieldInfo { field: Field::FdDirectory, name: "fd.directory", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "If the fd is a file, the directory that contains it." },
    FieldInfo { field: Field::FdFilename, name: "fd.filename", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "If the fd is a file, the filename without the path." },
    FieldInfo { field: Field::FdIp, name: "fd.ip", ftype: FieldType::IpAddr, flags: flags::FILTER_ONLY | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "matches the ip address (client or server) of the fd." },
    FieldInfo { field: Field::FdCip, name: "fd.cip", ftype: FieldType::IpAddr, flags: 0, availability: Availability::Entry, desc: "client IP address." },
    FieldInfo { field: Field::FdSip, name: "fd.sip", ftype: FieldType::IpAddr, flags: 0, availability: Availability::Entry, desc: "server IP address." },
    FieldInfo { field: Field::FdLip, name: "fd.lip", ftype: FieldType::IpAddr, flags: 0, availability: Availability::ExitOnly, desc: "local IP address." },
    FieldInfo { field: Field::FdRip, name: "fd.rip", ftype: FieldType::IpAddr, flags: 0, availability: Availability::Entry, desc: "remote IP address." },
    FieldInfo { field: Field::FdPort, name: "fd.port", ftype: FieldType::Port, flags: flags::FILTER_ONLY | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "matches the port (either client or server) of the fd." },
    FieldInfo { field: Field::FdCport, name: "fd.cport", ftype: FieldType::Port, flags: 0, availability: Availability::ExitOnly, desc: "for TCP/UDP FDs, the client port." },
    FieldInfo { field: Field::FdSport, name: "fd.sport", ftype: FieldType::Port, flags: 0, availability: Availability::Entry, desc: "for TCP/UDP FDs, server port." },
    FieldInfo { field: Field::FdLport, name: "fd.lport", ftype: FieldType::Port, flags: 0, availability: Availability::ExitOnly, desc: "for TCP/UDP FDs, the local port." },
    FieldInfo { field: Field::FdRport, name: "fd.rport", ftype: FieldType::Port, flags: 0, availability: Availability::Entry, desc: "for TCP/UDP FDs, the remote port." },
    FieldInfo { field: Field::FdL4proto, name: "fd.l4proto", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "the IP protocol of a socket: 'tcp', 'udp', 'icmp' or 'raw'." },
    FieldInfo { field: Field::FdSockfamily, name: "fd.sockfamily", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "the socket family for socket events: 'ip' or 'unix'." },
    FieldInfo { field: Field::FdIsServer, name: "fd.is_server", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' if the process owning this FD is the server endpoint in the connection." },
    FieldInfo { field: Field::FdUid, name: "fd.uid", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "a unique identifier for the FD, created by chaining the FD number and the thread ID." },
    FieldInfo { field: Field::FdContainername, name: "fd.containername", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "chaining of the container ID and the FD name." },
    FieldInfo { field: Field::FdContainerdirectory, name: "fd.containerdirectory", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "chaining of the container ID and the directory name." },
    FieldInfo { field: Field::FdProto, name: "fd.proto", ftype: FieldType::Port, flags: flags::FILTER_ONLY | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "matches the protocol (either client or server) of the fd." },
    FieldInfo { field: Field::FdCproto, name: "fd.cproto", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "for TCP/UDP FDs, the client protocol." },
    FieldInfo { field: Field::FdSproto, name: "fd.sproto", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "for TCP/UDP FDs, server protocol." },
    FieldInfo { field: Field::FdLproto, name: "fd.lproto", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "for TCP/UDP FDs, the local protocol." },
    FieldInfo { field: Field::FdRproto, name: "fd.rproto", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "for TCP/UDP FDs, the remote protocol." },
    FieldInfo { field: Field::FdNet, name: "fd.net", ftype: FieldType::IpNet, flags: flags::FILTER_ONLY | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "matches the IP network (client or server) of the fd." },
    FieldInfo { field: Field::FdCnet, name: "fd.cnet", ftype: FieldType::IpNet, flags: flags::FILTER_ONLY | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "matches the client IP network of the fd." },
    FieldInfo { field: Field::FdSnet, name: "fd.snet", ftype: FieldType::IpNet, flags: flags::FILTER_ONLY | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "matches the server IP network of the fd." },
    FieldInfo { field: Field::FdLnet, name: "fd.lnet", ftype: FieldType::IpNet, flags: flags::FILTER_ONLY | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::ExitOnly, desc: "matches the local IP network of the fd." },
    FieldInfo { field: Field::FdRnet, name: "fd.rnet", ftype: FieldType::IpNet, flags: flags::FILTER_ONLY | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "matches the remote IP network of the fd." },
    FieldInfo { field: Field::FdConnected, name: "fd.connected", ftype: FieldType::Bool, flags: 0, availability: Availability::ExitOnly, desc: "for TCP/UDP FDs, 'true' if the socket is connected." },
    FieldInfo { field: Field::FdNameChanged, name: "fd.name_changed", ftype: FieldType::Bool, flags: 0, availability: Availability::ExitOnly, desc: "True when an event changes the name of an fd used by this event (e.g. UDP sendto to a new peer)." },
    FieldInfo { field: Field::FdCipName, name: "fd.cip.name", ftype: FieldType::String, flags: flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "Domain name associated with the client IP address (compared by resolving the rule's names)." },
    FieldInfo { field: Field::FdSipName, name: "fd.sip.name", ftype: FieldType::String, flags: flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "Domain name associated with the server IP address (compared by resolving the rule's names)." },
    FieldInfo { field: Field::FdLipName, name: "fd.lip.name", ftype: FieldType::String, flags: flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::ExitOnly, desc: "Domain name associated with the local IP address (compared by resolving the rule's names)." },
    FieldInfo { field: Field::FdRipName, name: "fd.rip.name", ftype: FieldType::String, flags: flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "Domain name associated with the remote IP address (compared by resolving the rule's names)." },
    FieldInfo { field: Field::FdDev, name: "fd.dev", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "device number (major/minor) containing the referenced file." },
    FieldInfo { field: Field::FdDevMajor, name: "fd.dev.major", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "major device number containing the referenced file." },
    FieldInfo { field: Field::FdDevMinor, name: "fd.dev.minor", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "minor device number containing the referenced file." },
    FieldInfo { field: Field::FdIno, name: "fd.ino", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "inode number of the referenced file." },
    FieldInfo { field: Field::FdNameraw, name: "fd.nameraw", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "FD full name raw: the file path as passed to the syscall, not made absolute." },
    FieldInfo { field: Field::FdTypes, name: "fd.types", ftype: FieldType::String, flags: flags::IS_LIST | flags::ARG_ALLOWED | flags::ARG_INDEX | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "List of FD types in use; fd.types[N] gives the type of fd N as a single item list." },
    FieldInfo { field: Field::FsPathName, name: "fs.path.name", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "For any event type that deals with a filesystem path, the path the file syscall is operating on, fully resolved." },
    FieldInfo { field: Field::FsPathNameraw, name: "fs.path.nameraw", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "For any event type that deals with a filesystem path, the path as provided to the syscall." },
    FieldInfo { field: Field::FsPathSource, name: "fs.path.source", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "For syscalls with a source and a target, the source path, fully resolved." },
    FieldInfo { field: Field::FsPathSourceraw, name: "fs.path.sourceraw", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "For syscalls with a source and a target, the source path as provided." },
    FieldInfo { field: Field::FsPathTarget, name: "fs.path.target", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "For syscalls with a source and a target, the target path, fully resolved." },
    FieldInfo { field: Field::FsPathTargetraw, name: "fs.path.targetraw", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "For syscalls with a source and a target, the target path as provided." },
    FieldInfo { field: Field::ProcExe, name: "proc.exe", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The first command line argument argv[0] (for execve*: of the new program)." },
    FieldInfo { field: Field::ProcPexe, name: "proc.pexe", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The proc.exe (argv[0]) of the parent process." },
    FieldInfo { field: Field::ProcAexe, name: "proc.aexe", ftype: FieldType::String, flags: flags::ARG_ALLOWED | flags::ARG_INDEX | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "The proc.exe of an ancestor (proc.aexe[1] = parent); without argument, matches any ancestor." },
    FieldInfo { field: Field::ProcExepath, name: "proc.exepath", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The full executable path of the process (symlinks resolved)." },
    FieldInfo { field: Field::ProcPexepath, name: "proc.pexepath", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The proc.exepath of the parent process." },
    FieldInfo { field: Field::ProcAexepath, name: "proc.aexepath", ftype: FieldType::String, flags: flags::ARG_ALLOWED | flags::ARG_INDEX | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "The proc.exepath of an ancestor; without argument, matches any ancestor." },
    FieldInfo { field: Field::ProcName, name: "proc.name", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The process name (task->comm, at most 15 bytes); for execve* the new program's." },
    FieldInfo { field: Field::ProcPname, name: "proc.pname", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The proc.name of the parent process." },
    FieldInfo { field: Field::ProcAname, name: "proc.aname", ftype: FieldType::String, flags: flags::ARG_ALLOWED | flags::ARG_INDEX | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "The proc.name of an ancestor (proc.aname[1] = parent, [0] = self); without argument, matches any ancestor (not self)." },
    FieldInfo { field: Field::ProcArgs, name: "proc.args", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The command line arguments excluding argv[0], joined by single spaces." },
    FieldInfo { field: Field::ProcCmdline, name: "proc.cmdline", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "proc.name + ' ' + proc.args." },
    FieldInfo { field: Field::ProcPcmdline, name: "proc.pcmdline", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The proc.cmdline of the parent process." },
    FieldInfo { field: Field::ProcAcmdline, name: "proc.acmdline", ftype: FieldType::String, flags: flags::ARG_ALLOWED | flags::ARG_INDEX | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "The proc.cmdline of an ancestor; without argument, matches any ancestor." },
    FieldInfo { field: Field::ProcCmdnargs, name: "proc.cmdnargs", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "The number of command line args (proc.args)." },
    FieldInfo { field: Field::ProcCmdlenargs, name: "proc.cmdlenargs", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "The total count of characters of the command line args, excluding whitespace between args." },
    FieldInfo { field: Field::ProcExeline, name: "proc.exeline", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "proc.exe + ' ' + proc.args." },
    FieldInfo { field: Field::ProcEnv, name: "proc.env", ftype: FieldType::String, flags: flags::ARG_ALLOWED | flags::ARG_INDEX | flags::ARG_NAME, availability: Availability::Entry, desc: "The environment as 'NAME=value NAME1=value1'; proc.env[NAME] gives one variable's value." },
    FieldInfo { field: Field::ProcAenv, name: "proc.aenv", ftype: FieldType::String, flags: flags::ARG_ALLOWED | flags::ARG_INDEX | flags::ARG_NAME | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "[EXPERIMENTAL] proc.env of ancestors." },
    FieldInfo { field: Field::ProcCwd, name: "proc.cwd", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The current working directory of the event." },
    FieldInfo { field: Field::ProcLoginshellid, name: "proc.loginshellid", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "The pid of the oldest shell among the ancestors of the current process, if there is one." },
    FieldInfo { field: Field::ProcTty, name: "proc.tty", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "The controlling terminal of the process. 0 for processes without a terminal." },
    FieldInfo { field: Field::ProcPid, name: "proc.pid", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "The id of the process generating the event." },
    FieldInfo { field: Field::ProcPpid, name: "proc.ppid", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "The pid of the parent of the process generating the event." },
    FieldInfo { field: Field::ProcApid, name: "proc.apid", ftype: FieldType::Int64, flags: flags::ARG_ALLOWED | flags::ARG_INDEX | flags::NO_RHS | flags::NO_TRANSFORMER, availability: Availability::Entry, desc: "The pid of an ancestor; without argument, matches any ancestor." },
    FieldInfo { field: Field::ProcVpid, name: "proc.vpid", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "The id of the process as seen from its current PID namespace." },
    FieldInfo { field: Field::ProcPvpid, name: "proc.pvpid", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "The id of the parent process as seen from its current PID namespace." },
    FieldInfo { field: Field::ProcSid, name: "proc.sid", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "The session id of the process generating the event." },
    FieldInfo { field: Field::ProcSname, name: "proc.sname", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The name of the current process's session leader." },
    FieldInfo { field: Field::ProcSidExe, name: "proc.sid.exe", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The argv[0] of the current process's session leader." },
    FieldInfo { field: Field::ProcSidExepath, name: "proc.sid.exepath", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The full executable path of the current process's session leader." },
    FieldInfo { field: Field::ProcVpgid, name: "proc.vpgid", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "The process group id, as seen from the current PID namespace." },
    FieldInfo { field: Field::ProcVpgidName, name: "proc.vpgid.name", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The name of the current process's process group leader." },
    FieldInfo { field: Field::ProcVpgidExe, name: "proc.vpgid.exe", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The argv[0] of the current process's process group leader." },
    FieldInfo { field: Field::ProcVpgidExepath, name: "proc.vpgid.exepath", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The full executable path of the current process's process group leader." },
    FieldInfo { field: Field::ProcDuration, name: "proc.duration", ftype: FieldType::RelTime, flags: 0, availability: Availability::Entry, desc: "Number of nanoseconds since the process started." },
    FieldInfo { field: Field::ProcPpidDuration, name: "proc.ppid.duration", ftype: FieldType::RelTime, flags: 0, availability: Availability::Entry, desc: "Number of nanoseconds since the parent process started." },
    FieldInfo { field: Field::ProcPidTs, name: "proc.pid.ts", ftype: FieldType::RelTime, flags: 0, availability: Availability::Entry, desc: "Start of process as epoch timestamp in nanoseconds." },
    FieldInfo { field: Field::ProcPpidTs, name: "proc.ppid.ts", ftype: FieldType::RelTime, flags: 0, availability: Availability::Entry, desc: "Start of parent process as epoch timestamp in nanoseconds." },
    FieldInfo { field: Field::ProcIsExeWritable, name: "proc.is_exe_writable", ftype: FieldType::Bool, flags: 0, availability: Availability::Kernel, desc: "'true' if this process' executable file is writable by the same user that spawned the process." },
    FieldInfo { field: Field::ProcIsExeUpperLayer, name: "proc.is_exe_upper_layer", ftype: FieldType::Bool, flags: 0, availability: Availability::Kernel, desc: "'true' if this process' executable file is in the upper layer of overlayfs." },
    FieldInfo { field: Field::ProcIsExeFromMemfd, name: "proc.is_exe_from_memfd", ftype: FieldType::Bool, flags: 0, availability: Availability::Kernel, desc: "'true' if the executable file of the current process is an anonymous memfd." },
    FieldInfo { field: Field::ProcIsSidLeader, name: "proc.is_sid_leader", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' if this process is the leader of the process session." },
    FieldInfo { field: Field::ProcIsVpgidLeader, name: "proc.is_vpgid_leader", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' if this process is the leader of the virtual process group." },
    FieldInfo { field: Field::ProcExeIno, name: "proc.exe_ino", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "The inode number of the executable file on disk." },
    FieldInfo { field: Field::ProcExeInoCtime, name: "proc.exe_ino.ctime", ftype: FieldType::AbsTime, flags: 0, availability: Availability::Entry, desc: "Last status change time of the executable file, epoch ns." },
    FieldInfo { field: Field::ProcExeInoMtime, name: "proc.exe_ino.mtime", ftype: FieldType::AbsTime, flags: 0, availability: Availability::Entry, desc: "Last modification time of the executable file, epoch ns." },
    FieldInfo { field: Field::ProcExeInoCtimeDurationProcStart, name: "proc.exe_ino.ctime_duration_proc_start", ftype: FieldType::AbsTime, flags: 0, availability: Availability::Entry, desc: "Nanoseconds between the ctime of the executable and the process start." },
    FieldInfo { field: Field::ProcExeInoCtimeDurationPidnsStart, name: "proc.exe_ino.ctime_duration_pidns_start", ftype: FieldType::AbsTime, flags: 0, availability: Availability::Entry, desc: "Nanoseconds between the PID namespace start and the ctime of the executable." },
    FieldInfo { field: Field::ProcPidnsInitStartTs, name: "proc.pidns_init_start_ts", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "Start of the PID namespace as epoch ns." },
    FieldInfo { field: Field::ThreadCapPermitted, name: "thread.cap_permitted", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The permitted capabilities set (names joined by spaces)." },
    FieldInfo { field: Field::ThreadCapInheritable, name: "thread.cap_inheritable", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The inheritable capabilities set." },
    FieldInfo { field: Field::ThreadCapEffective, name: "thread.cap_effective", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "The effective capabilities set (names joined by spaces, e.g. CAP_CHOWN CAP_SYS_ADMIN)." },
    FieldInfo { field: Field::ProcIsContainerHealthcheck, name: "proc.is_container_healthcheck", ftype: FieldType::Bool, flags: 0, availability: Availability::NotServed, desc: "'true' if this process is running as a part of the container's health check." },
    FieldInfo { field: Field::ProcIsContainerLivenessProbe, name: "proc.is_container_liveness_probe", ftype: FieldType::Bool, flags: 0, availability: Availability::NotServed, desc: "'true' if this process is running as a part of the container's liveness probe." },
    FieldInfo { field: Field::ProcIsContainerReadinessProbe, name: "proc.is_container_readiness_probe", ftype: FieldType::Bool, flags: 0, availability: Availability::NotServed, desc: "'true' if this process is running as a part of the container's readiness probe." },
    FieldInfo { field: Field::ProcFdopencount, name: "proc.fdopencount", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "Number of open FDs for the process." },
    FieldInfo { field: Field::ProcFdlimit, name: "proc.fdlimit", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "Maximum number of FDs the process can open." },
    FieldInfo { field: Field::ProcFdusage, name: "proc.fdusage", ftype: FieldType::Double, flags: 0, availability: Availability::Entry, desc: "The ratio between open FDs and maximum available FDs for the process." },
    FieldInfo { field: Field::ProcVmsize, name: "proc.vmsize", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "Total virtual memory for the process (kb)." },
    FieldInfo { field: Field::ProcVmrss, name: "proc.vmrss", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "Resident non-swapped memory for the process (kb)." },
    FieldInfo { field: Field::ProcVmswap, name: "proc.vmswap", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "Swapped memory for the process (kb)." },
    FieldInfo { field: Field::ThreadPfmajor, name: "thread.pfmajor", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "Number of major page faults since thread start." },
    FieldInfo { field: Field::ThreadPfminor, name: "thread.pfminor", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "Number of minor page faults since thread start." },
    FieldInfo { field: Field::ThreadTid, name: "thread.tid", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "The id of the thread generating the event." },
    FieldInfo { field: Field::ThreadIsmain, name: "thread.ismain", ftype: FieldType::Bool, flags: 0, availability: Availability::Entry, desc: "'true' if the thread generating the event is the main one in the process." },
    FieldInfo { field: Field::ThreadVtid, name: "thread.vtid", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "The id of the thread as seen from its current PID namespace." },
    FieldInfo { field: Field::ThreadNametid, name: "thread.nametid", ftype: FieldType::String, flags: flags::TABLE_ONLY, availability: Availability::Entry, desc: "process name + tid." },
    FieldInfo { field: Field::ThreadExectime, name: "thread.exectime", ftype: FieldType::RelTime, flags: 0, availability: Availability::NotServed, desc: "CPU time spent by the last scheduled thread (switch events only)." },
    FieldInfo { field: Field::ThreadTotexectime, name: "thread.totexectime", ftype: FieldType::RelTime, flags: 0, availability: Availability::NotServed, desc: "Total CPU time of the current thread (switch events only)." },
    FieldInfo { field: Field::ThreadCgroups, name: "thread.cgroups", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "All cgroups the thread belongs to, aggregated into a single string." },
    FieldInfo { field: Field::ThreadCgroup, name: "thread.cgroup", ftype: FieldType::String, flags: flags::ARG_REQUIRED | flags::ARG_NAME | flags::ARG_DOTTED, availability: Availability::Entry, desc: "The cgroup the thread belongs to, for a specific subsystem (thread.cgroup.cpuacct)." },
    FieldInfo { field: Field::ProcNthreads, name: "proc.nthreads", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "The number of alive threads of the process." },
    FieldInfo { field: Field::ProcNchilds, name: "proc.nchilds", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "The number of alive non-leader threads of the process." },
    FieldInfo { field: Field::ThreadCpu, name: "thread.cpu", ftype: FieldType::Double, flags: 0, availability: Availability::NotServed, desc: "The CPU consumed by the thread in the last second." },
    FieldInfo { field: Field::ThreadCpuUser, name: "thread.cpu.user", ftype: FieldType::Double, flags: 0, availability: Availability::NotServed, desc: "The user CPU consumed by the thread in the last second." },
    FieldInfo { field: Field::ThreadCpuSystem, name: "thread.cpu.system", ftype: FieldType::Double, flags: 0, availability: Availability::NotServed, desc: "The system CPU consumed by the thread in the last second." },
    FieldInfo { field: Field::ThreadVmsize, name: "thread.vmsize", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "For the main thread, the total virtual memory of the process (kb)." },
    FieldInfo { field: Field::ThreadVmrss, name: "thread.vmrss", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "For the main thread, the resident memory of the process (kb)." },
    FieldInfo { field: Field::UserUid, name: "user.uid", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "user ID." },
    FieldInfo { field: Field::UserName, name: "user.name", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "user name (resolved in the container's user database)." },
    FieldInfo { field: Field::UserHomedir, name: "user.homedir", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "home directory of the user." },
    FieldInfo { field: Field::UserShell, name: "user.shell", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "user's shell." },
    FieldInfo { field: Field::UserLoginuid, name: "user.loginuid", ftype: FieldType::Int64, flags: 0, availability: Availability::Entry, desc: "audit user id (auid); -1 if unset." },
    FieldInfo { field: Field::UserLoginname, name: "user.loginname", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "audit user name (auid)." },
    FieldInfo { field: Field::GroupGid, name: "group.gid", ftype: FieldType::Uint64, flags: 0, availability: Availability::Entry, desc: "group ID." },
    FieldInfo { field: Field::GroupName, name: "group.name", ftype: FieldType::String, flags: 0, availability: Availability::Entry, desc: "group name." },
    FieldInfo { field: Field::ContainerId, name: "container.id", ftype: FieldType::String, flags: flags::SUGGESTED, availability: Availability::Static, desc: "The truncated container ID (first 12 characters), 'host' for host processes." },
    FieldInfo { field: Field::ContainerFullId, name: "container.full_id", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The full container ID." },
    FieldInfo { field: Field::ContainerName, name: "container.name", ftype: FieldType::String, flags: flags::SUGGESTED, availability: Availability::Static, desc: "The container name." },
    FieldInfo { field: Field::ContainerImage, name: "container.image", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The container image name (e.g. falcosecurity/falco:latest)." },
    FieldInfo { field: Field::ContainerImageId, name: "container.image.id", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The container image id." },
    FieldInfo { field: Field::ContainerType, name: "container.type", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The container type (docker, cri-o, containerd, podman ...)." },
    FieldInfo { field: Field::ContainerPrivileged, name: "container.privileged", ftype: FieldType::Bool, flags: 0, availability: Availability::Static, desc: "'true' for containers running as privileged." },
    FieldInfo { field: Field::ContainerMounts, name: "container.mounts", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "A space-separated list of mount information (source:dest:mode:rdwr:propagation)." },
    FieldInfo { field: Field::ContainerMount, name: "container.mount", ftype: FieldType::String, flags: flags::ARG_REQUIRED | flags::ARG_INDEX | flags::ARG_NAME, availability: Availability::Static, desc: "Information about a single mount, by number or by mount source." },
    FieldInfo { field: Field::ContainerMountSource, name: "container.mount.source", ftype: FieldType::String, flags: flags::ARG_REQUIRED | flags::ARG_INDEX | flags::ARG_NAME, availability: Availability::Static, desc: "The mount source, by number or by mount destination." },
    FieldInfo { field: Field::ContainerMountDest, name: "container.mount.dest", ftype: FieldType::String, flags: flags::ARG_REQUIRED | flags::ARG_INDEX | flags::ARG_NAME, availability: Availability::Static, desc: "The mount destination, by number or by mount source." },
    FieldInfo { field: Field::ContainerMountMode, name: "container.mount.mode", ftype: FieldType::String, flags: flags::ARG_REQUIRED | flags::ARG_INDEX | flags::ARG_NAME, availability: Availability::Static, desc: "The mount mode, by number or by mount source." },
    FieldInfo { field: Field::ContainerMountRdwr, name: "container.mount.rdwr", ftype: FieldType::String, flags: flags::ARG_REQUIRED | flags::ARG_INDEX | flags::ARG_NAME, availability: Availability::Static, desc: "The mount rdwr value, by number or by mount source." },
    FieldInfo { field: Field::ContainerMountPropagation, name: "container.mount.propagation", ftype: FieldType::String, flags: flags::ARG_REQUIRED | flags::ARG_INDEX | flags::ARG_NAME, availability: Availability::Static, desc: "The mount propagation value, by number or by mount source." },
    FieldInfo { field: Field::ContainerImageRepository, name: "container.image.repository", ftype: FieldType::String, flags: flags::SUGGESTED, availability: Availability::Static, desc: "The container image repository (e.g. falcosecurity/falco)." },
    FieldInfo { field: Field::ContainerImageTag, name: "container.image.tag", ftype: FieldType::String, flags: flags::SUGGESTED, availability: Availability::Static, desc: "The container image tag (e.g. stable, latest)." },
    FieldInfo { field: Field::ContainerImageDigest, name: "container.image.digest", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The container image registry digest." },
    FieldInfo { field: Field::ContainerHealthcheck, name: "container.healthcheck", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The container's health check." },
    FieldInfo { field: Field::ContainerLivenessProbe, name: "container.liveness_probe", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The container's liveness probe." },
    FieldInfo { field: Field::ContainerReadinessProbe, name: "container.readiness_probe", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The container's readiness probe." },
    FieldInfo { field: Field::ContainerStartTs, name: "container.start_ts", ftype: FieldType::AbsTime, flags: 0, availability: Availability::Static, desc: "Container start as epoch timestamp in nanoseconds." },
    FieldInfo { field: Field::ContainerDuration, name: "container.duration", ftype: FieldType::RelTime, flags: 0, availability: Availability::Static, desc: "Number of nanoseconds since container.start_ts." },
    FieldInfo { field: Field::ContainerIp, name: "container.ip", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The container's primary ip address." },
    FieldInfo { field: Field::ContainerCniJson, name: "container.cni.json", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The container's CNI result json." },
    FieldInfo { field: Field::ContainerHostPid, name: "container.host_pid", ftype: FieldType::Bool, flags: 0, availability: Availability::Static, desc: "'true' if the container is running in the host PID namespace." },
    FieldInfo { field: Field::ContainerHostNetwork, name: "container.host_network", ftype: FieldType::Bool, flags: 0, availability: Availability::Static, desc: "'true' if the container is running in the host network namespace." },
    FieldInfo { field: Field::ContainerHostIpc, name: "container.host_ipc", ftype: FieldType::Bool, flags: 0, availability: Availability::Static, desc: "'true' if the container is running in the host IPC namespace." },
    FieldInfo { field: Field::ContainerLabel, name: "container.label", ftype: FieldType::String, flags: flags::ARG_REQUIRED | flags::ARG_NAME, availability: Availability::Static, desc: "Container label (container.label.foo or container.label[foo])." },
    FieldInfo { field: Field::ContainerLabels, name: "container.labels", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "Container comma-separated key/value labels." },
    FieldInfo { field: Field::K8sPodName, name: "k8s.pod.name", ftype: FieldType::String, flags: flags::SUGGESTED, availability: Availability::Static, desc: "The Kubernetes pod name." },
    FieldInfo { field: Field::K8sPodId, name: "k8s.pod.id", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "[LEGACY] The Kubernetes pod UID." },
    FieldInfo { field: Field::K8sPodUid, name: "k8s.pod.uid", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The Kubernetes pod UID." },
    FieldInfo { field: Field::K8sPodSandboxId, name: "k8s.pod.sandbox_id", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The truncated Kubernetes pod sandbox ID." },
    FieldInfo { field: Field::K8sPodFullSandboxId, name: "k8s.pod.full_sandbox_id", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The full Kubernetes pod sandbox ID." },
    FieldInfo { field: Field::K8sPodLabel, name: "k8s.pod.label", ftype: FieldType::String, flags: flags::ARG_REQUIRED | flags::ARG_NAME, availability: Availability::Static, desc: "The Kubernetes pod label (k8s.pod.label[foo])." },
    FieldInfo { field: Field::K8sPodLabels, name: "k8s.pod.labels", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The Kubernetes pod comma-separated key/value labels." },
    FieldInfo { field: Field::K8sPodIp, name: "k8s.pod.ip", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The Kubernetes pod ip." },
    FieldInfo { field: Field::K8sPodCniJson, name: "k8s.pod.cni.json", ftype: FieldType::String, flags: 0, availability: Availability::Static, desc: "The Kubernetes pod CNI result field." },
    FieldInfo { field: Field::K8sNsName, name: "k8s.ns.name", ftype: FieldType::String, flags: flags::SUGGESTED, availability: Availability::Static, desc: "The Kubernetes namespace name." },];

impl Field {
    /// The registry entry of this field.
    pub fn info(self) -> &'static FieldInfo {
        &FIELDS[self as usize]
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    pub fn ftype(self) -> FieldType {
        self.info().ftype
    }
}

/// Every field of the registry, in table order.
pub fn all() -> &'static [FieldInfo] {
    FIELDS
}

fn by_name() -> &'static HashMap<&'static str, &'static FieldInfo> {
    static MAP: OnceLock<HashMap<&'static str, &'static FieldInfo>> = OnceLock::new();
    MAP.get_or_init(|| FIELDS.iter().map(|f| (f.name, f)).collect())
}

/// Looks a field name up (without its argument).
pub fn lookup(name: &str) -> Option<&'static FieldInfo> {
    by_name().get(name).copied()
}

/// Why a field reference does not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// `filter_check called with nonexistent field X`.
    Unknown(String),
    /// A wrong or missing argument; the text says which.
    BadArg(String),
}

impl ResolveError {
    pub fn message(&self) -> &str {
        match self {
            ResolveError::Unknown(m) | ResolveError::BadArg(m) => m,
        }
    }
}

/// Resolves a field reference as written (`name` as lexed, `arg` the bracket argument)
/// into a field and its argument, checking the field's argument rule.
///
/// `evt.arg.flags` and `evt.arg[flags]` both give `(EvtArg, Name("flags"))`;
/// `proc.aname[2]` gives `(ProcAname, Index(2))`; a numeric argument to a field that
/// takes names and indices (`proc.env[1]`, `evt.arg[0]`) is an index.
pub fn resolve(
    name: &str,
    arg: Option<&str>,
) -> Result<(&'static FieldInfo, FieldArg), ResolveError> {
    if let Some(info) = lookup(name) {
        let farg = match arg {
            None => {
                if info.arg_required() {
                    return Err(ResolveError::BadArg(format!(
                        "filter error: field '{name}' requires an argument but none provided"
                    )));
                }
                FieldArg::None
            }
            Some(a) => {
                if !info.arg_allowed() {
                    return Err(ResolveError::BadArg(format!(
                        "filter error: field '{name}' does not support arguments"
                    )));
                }
                parse_arg(info, a)?
            }
        };
        return Ok((info, farg));
    }
    // Dotted argument: the longest registered prefix `p` with `name = p + "." + rest`
    // whose field accepts dotted arguments.
    let mut end = name.len();
    while let Some(dot) = name[..end].rfind('.') {
        let (prefix, rest) = (&name[..dot], &name[dot + 1..]);
        if let Some(info) = lookup(prefix) {
            if info.has(flags::ARG_DOTTED) && !rest.is_empty() {
                if arg.is_some() {
                    return Err(ResolveError::BadArg(format!(
                        "filter error: field '{prefix}' has an argument both after '.' and in brackets"
                    )));
                }
                return Ok((info, FieldArg::Name(rest.into())));
            }
        }
        end = dot;
    }
    Err(ResolveError::Unknown(format!(
        "filter_check called with nonexistent field {name}"
    )))
}

fn parse_arg(info: &'static FieldInfo, a: &str) -> Result<FieldArg, ResolveError> {
    let numeric = !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit());
    if info.has(flags::ARG_INDEX) && numeric {
        return a.parse::<i64>().map(FieldArg::Index).map_err(|_| {
            ResolveError::BadArg(format!(
                "filter error: invalid numeric argument '{a}' for field '{}'",
                info.name
            ))
        });
    }
    if info.has(flags::ARG_NAME) {
        return Ok(FieldArg::Name(a.into()));
    }
    Err(ResolveError::BadArg(format!(
        "filter error: field '{}' requires a numeric argument, got '{a}'",
        info.name
    )))
}

/// The fields Falco's `suggested_output` appends (container plugin), in order.
pub fn suggested() -> impl Iterator<Item = &'static FieldInfo> {
    FIELDS.iter().filter(|f| f.has(flags::SUGGESTED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_discriminant() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(f.field as usize, i, "{}", f.name);
        }
        let mut names: Vec<_> = FIELDS.iter().map(|f| f.name).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "duplicate field names");
    }

    #[test]
    fn resolves_args() {
        let (f, a) = resolve("evt.arg.flags", None).unwrap();
        assert_eq!(
            (f.field, a),
            (Field::EvtArg, FieldArg::Name("flags".into()))
        );
        let (f, a) = resolve("evt.arg", Some("flags")).unwrap();
        assert_eq!(
            (f.field, a),
            (Field::EvtArg, FieldArg::Name("flags".into()))
        );
        let (f, a) = resolve("evt.arg", Some("0")).unwrap();
        assert_eq!((f.field, a), (Field::EvtArg, FieldArg::Index(0)));
        let (f, a) = resolve("proc.aname", Some("2")).unwrap();
        assert_eq!((f.field, a), (Field::ProcAname, FieldArg::Index(2)));
        let (f, a) = resolve("proc.aname", None).unwrap();
        assert_eq!((f.field, a), (Field::ProcAname, FieldArg::None));
        let (f, a) = resolve("proc.env", Some("HOME")).unwrap();
        assert_eq!(
            (f.field, a),
            (Field::ProcEnv, FieldArg::Name("HOME".into()))
        );
        assert!(matches!(
            resolve("proc.aname", Some("x")),
            Err(ResolveError::BadArg(_))
        ));
        assert!(matches!(
            resolve("evt.arg", None),
            Err(ResolveError::BadArg(_))
        ));
        assert!(matches!(
            resolve("proc.name", Some("1")),
            Err(ResolveError::BadArg(_))
        ));
        assert_eq!(
            resolve("proc.nobody", None).unwrap_err().message(),
            "filter_check called with nonexistent field proc.nobody"
        );
        // `fd.sip.name` is a field of its own, not `fd.sip` with an argument.
        assert_eq!(
            resolve("fd.sip.name", None).unwrap().0.field,
            Field::FdSipName
        );
        assert_eq!(
            resolve("thread.cgroup.cpuacct", None).unwrap().1,
            FieldArg::Name("cpuacct".into())
        );
    }

    #[test]
    fn upstream_fields_known() {
        let names = "container.id container.image.repository container.mount.dest container.mounts \
            container.privileged container.start_ts evt.arg.cmd evt.arg.domain evt.arg.fd \
            evt.arg.filename evt.arg.flags evt.arg.linkpath evt.arg.mode evt.arg.name evt.arg.newpath \
            evt.arg.oldpath evt.arg.path evt.arg.request evt.arg.target evt.arg.uid evt.args evt.buffer \
            evt.hostname evt.is_open_exec evt.is_open_read evt.is_open_write evt.num evt.rawres evt.res \
            evt.type fd.cip fd.cip.name fd.cnet fd.connected fd.directory fd.filename fd.ip fd.l4proto \
            fd.lip.name fd.lport fd.name fd.name_changed fd.nameraw fd.net fd.num fd.port fd.rip \
            fd.rip.name fd.rnet fd.rport fd.sip fd.sip.name fd.snet fd.sockfamily fd.sport fd.type \
            fd.typechar fd.types group.gid group.name k8s.ns.name k8s.pod.name proc.aexe proc.aexepath \
            proc.aname proc.args proc.cmdline proc.cwd proc.duration proc.env proc.exe proc.exe_ino.ctime \
            proc.exe_ino.ctime_duration_proc_start proc.exe_ino.mtime proc.exepath proc.is_exe_from_memfd \
            proc.is_exe_upper_layer proc.is_vpgid_leader proc.name proc.pcmdline proc.pexe proc.pexepath \
            proc.pname proc.ppid.duration proc.sname proc.tty proc.vpgid.exe proc.vpgid.name proc.vpid \
            thread.cap_effective thread.cap_permitted user.loginname user.loginuid user.name user.uid \
            evt.time evt.time.iso8601 evt.source evt.dir proc.pid proc.ppid proc.apid container.name \
            container.image.tag container.image proc.exe_ino";
        for n in names.split_whitespace() {
            let arg = match n {
                "container.mount.dest" => Some("0"),
                _ => None,
            };
            assert!(resolve(n, arg).is_ok(), "{n}");
        }
    }

    #[test]
    fn suggested_fields_in_falco_order() {
        let s: Vec<_> = suggested().map(|f| f.name).collect();
        assert_eq!(
            s,
            [
                "container.id",
                "container.name",
                "container.image.repository",
                "container.image.tag",
                "k8s.pod.name",
                "k8s.ns.name"
            ]
        );
    }
}
