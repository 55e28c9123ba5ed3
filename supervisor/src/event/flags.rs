//! Falco's renderings of flag and enum arguments (`driver/flags_table.c`): kernel values are
//! converted to Falco's `PPM_*` values, then rendered with Falco's algorithm (table order,
//! names joined by `|`, an entry equal to the whole value ends the walk and is printed last).

/// One `ppm_name_value` table.
pub type Table = &'static [(&'static str, u32)];

/// Falco's rendering of a `PT_FLAGS*` value (`sinsp_evt::get_param_as_str`); empty when
/// nothing matches (Falco then shows the number).
pub fn render(table: Table, initial: u32) -> String {
    let mut out = String::new();
    let mut val = initial;
    let mut stopped_at = None;
    for (i, (name, v)) in table.iter().enumerate() {
        if *v == initial {
            stopped_at = Some(i);
            break;
        }
        if (*v == 0 && initial == 0) || (*v != 0 && (val & v) == *v && val != 0) {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
            val &= !v;
        }
    }
    if let Some(i) = stopped_at {
        if !out.is_empty() {
            out.push('|');
        }
        out.push_str(table[i].0);
    }
    out
}

/// Rendering of a `PT_ENUMFLAGS*` value: the exact entry, or the number.
pub fn render_enum(table: Table, v: u32) -> String {
    table
        .iter()
        .find(|(_, x)| *x == v)
        .map(|(n, _)| (*n).to_string())
        .unwrap_or_else(|| v.to_string())
}

/// `render`, or the decimal number when no name matches (what `evt.arg.X` shows).
pub fn render_or_num(table: Table, v: u32) -> String {
    let s = render(table, v);
    if s.is_empty() {
        v.to_string()
    } else {
        s
    }
}

// ---- open flags -------------------------------------------------------------------------

pub const PPM_O_RDONLY: u32 = 1 << 0;
pub const PPM_O_WRONLY: u32 = 1 << 1;
pub const PPM_O_RDWR: u32 = PPM_O_RDONLY | PPM_O_WRONLY;
pub const PPM_O_CREAT: u32 = 1 << 2;
pub const PPM_O_APPEND: u32 = 1 << 3;
pub const PPM_O_DSYNC: u32 = 1 << 4;
pub const PPM_O_EXCL: u32 = 1 << 5;
pub const PPM_O_NONBLOCK: u32 = 1 << 6;
pub const PPM_O_SYNC: u32 = 1 << 7;
pub const PPM_O_TRUNC: u32 = 1 << 8;
pub const PPM_O_DIRECT: u32 = 1 << 9;
pub const PPM_O_DIRECTORY: u32 = 1 << 10;
pub const PPM_O_LARGEFILE: u32 = 1 << 11;
pub const PPM_O_CLOEXEC: u32 = 1 << 12;
pub const PPM_O_TMPFILE: u32 = 1 << 13;
pub const PPM_O_F_CREATED: u32 = 1 << 14;

pub static FILE_FLAGS: Table = &[
    ("O_LARGEFILE", PPM_O_LARGEFILE),
    ("O_DIRECTORY", PPM_O_DIRECTORY),
    ("O_DIRECT", PPM_O_DIRECT),
    ("O_TRUNC", PPM_O_TRUNC),
    ("O_SYNC", PPM_O_SYNC),
    ("O_NONBLOCK", PPM_O_NONBLOCK),
    ("O_EXCL", PPM_O_EXCL),
    ("O_DSYNC", PPM_O_DSYNC),
    ("O_APPEND", PPM_O_APPEND),
    ("O_CREAT", PPM_O_CREAT),
    ("O_RDWR", PPM_O_RDWR),
    ("O_WRONLY", PPM_O_WRONLY),
    ("O_RDONLY", PPM_O_RDONLY),
    ("O_CLOEXEC", PPM_O_CLOEXEC),
    ("O_NONE", 0),
    ("O_TMPFILE", PPM_O_TMPFILE),
    ("O_F_CREATED", PPM_O_F_CREATED),
];

// Linux x86 (and generic) open flag values.
pub const O_ACCMODE: u64 = 0o3;
pub const O_WRONLY: u64 = 0o1;
pub const O_RDWR: u64 = 0o2;
pub const O_CREAT: u64 = 0o100;
pub const O_EXCL: u64 = 0o200;
pub const O_TRUNC: u64 = 0o1000;
pub const O_APPEND: u64 = 0o2000;
pub const O_NONBLOCK: u64 = 0o4000;
pub const O_DSYNC: u64 = 0o10000;
pub const O_DIRECT: u64 = 0o40000;
pub const O_LARGEFILE: u64 = 0o100000;
pub const O_DIRECTORY: u64 = 0o200000;
pub const O_NOFOLLOW: u64 = 0o400000;
pub const O_CLOEXEC: u64 = 0o2000000;
pub const O_SYNC: u64 = 0o4010000;
pub const O_PATH: u64 = 0o10000000;
pub const O_TMPFILE: u64 = 0o20200000;

/// Kernel open flags → Falco's `PPM_O_*` (`open_flags_to_scap`).
pub fn open_flags_to_ppm(flags: u64) -> u32 {
    let mut r = match flags & O_ACCMODE {
        O_WRONLY => PPM_O_WRONLY,
        O_RDWR => PPM_O_RDWR,
        _ => PPM_O_RDONLY,
    };
    let bits: [(u64, u32); 11] = [
        (O_CREAT, PPM_O_CREAT),
        (O_APPEND, PPM_O_APPEND),
        (O_DSYNC, PPM_O_DSYNC),
        (O_EXCL, PPM_O_EXCL),
        (O_NONBLOCK, PPM_O_NONBLOCK),
        (O_TRUNC, PPM_O_TRUNC),
        (O_DIRECT, PPM_O_DIRECT),
        (O_DIRECTORY, PPM_O_DIRECTORY),
        (O_LARGEFILE, PPM_O_LARGEFILE),
        (O_CLOEXEC, PPM_O_CLOEXEC),
        (0, 0),
    ];
    for (k, p) in bits {
        if k != 0 && flags & k != 0 {
            r |= p;
        }
    }
    if flags & O_SYNC == O_SYNC {
        r |= PPM_O_SYNC;
    }
    if flags & O_TMPFILE == O_TMPFILE {
        r |= PPM_O_TMPFILE;
    }
    r
}

/// Whether an open with these kernel flags may create a file (`evt.is_open_create`; the
/// function the profile's flags prefilter is computed with).
pub fn open_creates(flags: u64) -> bool {
    tiercel_rules::prefilter::open_creates(flags)
}

/// The `mode` argument Falco records for an open (`open_modes_to_scap`): 0 unless the open
/// can create.
pub fn open_mode(flags: u64, mode: u64) -> u32 {
    if open_creates(flags) {
        (mode & 0o7777) as u32
    } else {
        0
    }
}

// ---- file modes -------------------------------------------------------------------------

pub static CHMOD_MODE: Table = &[
    ("S_IXOTH", 0o1),
    ("S_IWOTH", 0o2),
    ("S_IROTH", 0o4),
    ("S_IXGRP", 0o10),
    ("S_IWGRP", 0o20),
    ("S_IRGRP", 0o40),
    ("S_IXUSR", 0o100),
    ("S_IWUSR", 0o200),
    ("S_IRUSR", 0o400),
    ("S_ISVTX", 0o1000),
    ("S_ISGID", 0o2000),
    ("S_ISUID", 0o4000),
];

/// `printf("%#o")`, Falco's `PF_OCT`.
pub fn octal(v: u32) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("0{v:o}")
    }
}

/// `printf("%X")`, Falco's `PF_HEX`.
pub fn hex(v: u64) -> String {
    format!("{v:X}")
}

// ---- socket families --------------------------------------------------------------------

pub static SOCKET_FAMILIES: Table = &[
    ("AF_NFC", 39),
    ("AF_ALG", 38),
    ("AF_CAIF", 37),
    ("AF_IEEE802154", 36),
    ("AF_PHONET", 35),
    ("AF_ISDN", 34),
    ("AF_RXRPC", 33),
    ("AF_IUCV", 32),
    ("AF_BLUETOOTH", 31),
    ("AF_TIPC", 30),
    ("AF_CAN", 29),
    ("AF_LLC", 26),
    ("AF_WANPIPE", 25),
    ("AF_PPPOX", 24),
    ("AF_IRDA", 23),
    ("AF_SNA", 22),
    ("AF_RDS", 21),
    ("AF_ATMSVC", 20),
    ("AF_ECONET", 19),
    ("AF_ASH", 18),
    ("AF_PACKET", 17),
    ("AF_ROUTE", 16),
    ("AF_NETLINK", 16),
    ("AF_KEY", 15),
    ("AF_SECURITY", 14),
    ("AF_NETBEUI", 13),
    ("AF_DECnet", 12),
    ("AF_ROSE", 11),
    ("AF_INET6", 10),
    ("AF_X25", 9),
    ("AF_ATMPVC", 8),
    ("AF_BRIDGE", 7),
    ("AF_NETROM", 6),
    ("AF_APPLETALK", 5),
    ("AF_IPX", 4),
    ("AF_AX25", 3),
    ("AF_INET", 2),
    ("AF_LOCAL", 1),
    ("AF_UNIX", 1),
    ("AF_UNSPEC", 0),
];

// ---- clone / namespace flags ------------------------------------------------------------

pub static CLONE_FLAGS: Table = &[
    ("CLONE_FILES", 1 << 0),
    ("CLONE_FS", 1 << 1),
    ("CLONE_IO", 1 << 2),
    ("CLONE_NEWIPC", 1 << 3),
    ("CLONE_NEWNET", 1 << 4),
    ("CLONE_NEWNS", 1 << 5),
    ("CLONE_NEWPID", 1 << 6),
    ("CLONE_NEWUTS", 1 << 7),
    ("CLONE_PARENT", 1 << 8),
    ("CLONE_PARENT_SETTID", 1 << 9),
    ("CLONE_PTRACE", 1 << 10),
    ("CLONE_SIGHAND", 1 << 11),
    ("CLONE_SYSVSEM", 1 << 12),
    ("CLONE_THREAD", 1 << 13),
    ("CLONE_UNTRACED", 1 << 14),
    ("CLONE_VM", 1 << 15),
    ("CLONE_INVERTED", 1 << 16),
    ("NAME_CHANGED", 1 << 17),
    ("CLOSED", 1 << 18),
    ("CLONE_NEWUSER", 1 << 20),
    ("CLONE_CHILD_CLEARTID", 1 << 23),
    ("CLONE_CHILD_SETTID", 1 << 24),
    ("CLONE_SETTLS", 1 << 25),
    ("CLONE_STOPPED", 1 << 26),
    ("CLONE_VFORK", 1 << 27),
    ("CLONE_NEWCGROUP", 1 << 28),
];

/// Kernel clone/unshare/setns flags → `PPM_CL_*` (`clone_flags_to_scap`).
pub fn clone_flags_to_ppm(flags: u64) -> u32 {
    const MAP: [(u64, u32); 21] = [
        (0x0000_0400, 1 << 0),  // CLONE_FILES
        (0x0000_0200, 1 << 1),  // CLONE_FS
        (0x8000_0000, 1 << 2),  // CLONE_IO
        (0x0800_0000, 1 << 3),  // CLONE_NEWIPC
        (0x4000_0000, 1 << 4),  // CLONE_NEWNET
        (0x0002_0000, 1 << 5),  // CLONE_NEWNS
        (0x2000_0000, 1 << 6),  // CLONE_NEWPID
        (0x0400_0000, 1 << 7),  // CLONE_NEWUTS
        (0x0000_8000, 1 << 8),  // CLONE_PARENT
        (0x0010_0000, 1 << 9),  // CLONE_PARENT_SETTID
        (0x0000_2000, 1 << 10), // CLONE_PTRACE
        (0x0000_0800, 1 << 11), // CLONE_SIGHAND
        (0x0004_0000, 1 << 12), // CLONE_SYSVSEM
        (0x0001_0000, 1 << 13), // CLONE_THREAD
        (0x0080_0000, 1 << 14), // CLONE_UNTRACED
        (0x0000_0100, 1 << 15), // CLONE_VM
        (0x1000_0000, 1 << 20), // CLONE_NEWUSER
        (0x0020_0000, 1 << 23), // CLONE_CHILD_CLEARTID
        (0x0100_0000, 1 << 24), // CLONE_CHILD_SETTID
        (0x0008_0000, 1 << 25), // CLONE_SETTLS
        (0x0000_4000, 1 << 27), // CLONE_VFORK
    ];
    let mut r = 0;
    for (k, p) in MAP {
        if flags & k != 0 {
            r |= p;
        }
    }
    if flags & 0x0200_0000 != 0 {
        r |= 1 << 28; // CLONE_NEWCGROUP
    }
    r
}

// ---- ptrace -----------------------------------------------------------------------------

/// Kernel ptrace request → Falco's name (`ptrace_requests_to_scap` + `ptrace_requests`).
pub fn ptrace_request_name(req: u64) -> &'static str {
    match req {
        0 => "PTRACE_TRACEME",
        1 => "PTRACE_PEEKTEXT",
        2 => "PTRACE_PEEKDATA",
        3 => "PTRACE_PEEKUSR",
        4 => "PTRACE_POKETEXT",
        5 => "PTRACE_POKEDATA",
        6 => "PTRACE_POKEUSR",
        7 => "PTRACE_CONT",
        8 => "PTRACE_KILL",
        9 => "PTRACE_SINGLESTEP",
        12 => "PTRACE_GETREGS",
        13 => "PTRACE_SETREGS",
        14 => "PTRACE_GETFPREGS",
        15 => "PTRACE_SETFPREGS",
        16 => "PTRACE_ATTACH",
        17 => "PTRACE_DETACH",
        18 => "PTRACE_GETFPXREGS",
        19 => "PTRACE_SETFPXREGS",
        21 => "PTRACE_OLDSETOPTIONS",
        24 => "PTRACE_SYSCALL",
        25 => "PTRACE_GET_THREAD_AREA",
        26 => "PTRACE_SET_THREAD_AREA",
        30 => "PTRACE_ARCH_PRCTL",
        31 => "PTRACE_SYSEMU",
        32 => "PTRACE_SYSEMU_SINGLESTEP",
        33 => "PTRACE_SINGLEBLOCK",
        0x4200 => "PTRACE_SETOPTIONS",
        0x4201 => "PTRACE_GETEVENTMSG",
        0x4202 => "PTRACE_GETSIGINFO",
        0x4203 => "PTRACE_SETSIGINFO",
        0x4204 => "PTRACE_GETREGSET",
        0x4205 => "PTRACE_SETREGSET",
        0x4206 => "PTRACE_SEIZE",
        0x4207 => "PTRACE_INTERRUPT",
        0x4208 => "PTRACE_LISTEN",
        0x4209 => "PTRACE_PEEKSIGINFO",
        0x420a => "PTRACE_GETSIGMASK",
        0x420b => "PTRACE_SETSIGMASK",
        _ => "PTRACE_UNKNOWN",
    }
}

// ---- *at flags and others ---------------------------------------------------------------

pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
pub const AT_REMOVEDIR: u64 = 0x200;
pub const AT_SYMLINK_FOLLOW: u64 = 0x400;
pub const AT_EMPTY_PATH: u64 = 0x1000;

pub static UNLINKAT_FLAGS: Table = &[("AT_REMOVEDIR", 0x200)];
pub static LINKAT_FLAGS: Table = &[("AT_SYMLINK_FOLLOW", 0x400), ("AT_EMPTY_PATH", 0x1000)];
pub static RENAMEAT2_FLAGS: Table = &[
    ("RENAME_NOREPLACE", 1),
    ("RENAME_EXCHANGE", 2),
    ("RENAME_WHITEOUT", 4),
];
pub static OPENAT2_RESOLVE: Table = &[
    ("RESOLVE_BENEATH", 1 << 0),
    ("RESOLVE_IN_ROOT", 1 << 1),
    ("RESOLVE_NO_MAGICLINKS", 1 << 2),
    ("RESOLVE_NO_SYMLINKS", 1 << 3),
    ("RESOLVE_NO_XDEV", 1 << 4),
    ("RESOLVE_CACHED", 1 << 5),
];
/// Kernel `RESOLVE_*` → `PPM_RESOLVE_*`.
pub fn resolve_to_ppm(r: u64) -> u32 {
    const MAP: [(u64, u32); 6] = [
        (0x08, 1 << 0), // BENEATH
        (0x10, 1 << 1), // IN_ROOT
        (0x02, 1 << 2), // NO_MAGICLINKS
        (0x04, 1 << 3), // NO_SYMLINKS
        (0x01, 1 << 4), // NO_XDEV
        (0x20, 1 << 5), // CACHED
    ];
    MAP.iter()
        .filter(|(k, _)| r & k != 0)
        .fold(0, |a, (_, p)| a | p)
}
pub static EXECVEAT_FLAGS: Table = &[("AT_EMPTY_PATH", 1), ("AT_SYMLINK_NOFOLLOW", 2)];
/// Kernel execveat flags → `PPM_EXVAT_*`.
pub fn execveat_flags_to_ppm(f: u64) -> u32 {
    let mut r = 0;
    if f & AT_EMPTY_PATH != 0 {
        r |= 1;
    }
    if f & AT_SYMLINK_NOFOLLOW != 0 {
        r |= 2;
    }
    r
}
pub const PPM_EXE_WRITABLE: u32 = 1 << 0;
pub const PPM_EXE_UPPER_LAYER: u32 = 1 << 1;
pub const PPM_EXE_FROM_MEMFD: u32 = 1 << 2;
pub const PPM_EXE_LOWER_LAYER: u32 = 1 << 3;
pub static EXECVE_FLAGS: Table = &[
    ("EXE_WRITABLE", PPM_EXE_WRITABLE),
    ("EXE_UPPER_LAYER", PPM_EXE_UPPER_LAYER),
    ("EXE_FROM_MEMFD", PPM_EXE_FROM_MEMFD),
    ("EXE_LOWER_LAYER", PPM_EXE_LOWER_LAYER),
];
pub static MEMFD_FLAGS: Table = &[
    ("MFD_CLOEXEC", 1),
    ("MFD_ALLOW_SEALING", 2),
    ("MFD_HUGETLB", 4),
];
pub static FCHOWNAT_FLAGS: Table = &[("AT_SYMLINK_NOFOLLOW", 0x400), ("AT_EMPTY_PATH", 0x1000)];

/// `errno` names Falco prints for `evt.res` (the ones a decision can produce, and common ones).
pub fn errno_name(e: i32) -> Option<&'static str> {
    Some(match e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        24 => "EMFILE",
        28 => "ENOSPC",
        30 => "EROFS",
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        40 => "ELOOP",
        95 => "EOPNOTSUPP",
        111 => "ECONNREFUSED",
        115 => "EINPROGRESS",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(f: u64) -> String {
        render(FILE_FLAGS, open_flags_to_ppm(f))
    }

    #[test]
    fn open_flags_like_falco() {
        assert_eq!(of(O_WRONLY | O_CREAT | O_TRUNC), "O_TRUNC|O_CREAT|O_WRONLY");
        assert_eq!(of(0), "O_RDONLY");
        assert_eq!(of(O_RDWR), "O_RDWR");
        assert_eq!(of(O_RDWR | O_CREAT), "O_CREAT|O_RDWR");
        assert_eq!(of(O_CLOEXEC), "O_RDONLY|O_CLOEXEC");
        assert_eq!(
            of(O_DIRECTORY | O_CLOEXEC | O_NONBLOCK),
            "O_DIRECTORY|O_NONBLOCK|O_RDONLY|O_CLOEXEC"
        );
        assert_eq!(of(O_WRONLY | O_APPEND), "O_APPEND|O_WRONLY");
        // O_TMPFILE includes O_DIRECTORY.
        assert_eq!(of(O_TMPFILE | O_RDWR), "O_DIRECTORY|O_RDWR|O_TMPFILE");
    }

    /// The rules crate's table of what `evt.arg.flags` of an open shows (used by the
    /// seccomp prefilter) agrees with this renderer: same names in the same order, and
    /// for flags values combining every open flag bit, the rendered names are exactly
    /// those the table says are shown.
    #[test]
    fn prefilter_flag_names_agree_with_the_renderer() {
        use tiercel_rules::prefilter::{subsets, FlagBits, OPEN_CLASS_MASK, OPEN_FLAG_NAMES};
        let ours: Vec<&str> = FILE_FLAGS.iter().map(|(n, _)| *n).collect();
        let theirs: Vec<&str> = OPEN_FLAG_NAMES.iter().map(|(n, _)| *n).collect();
        assert_eq!(ours, theirs);
        // every kernel bit the renderer looks at, and a few it does not
        let others = [
            O_EXCL,
            O_APPEND,
            O_NONBLOCK,
            O_DSYNC,
            O_DIRECT,
            O_LARGEFILE,
            O_NOFOLLOW,
            O_CLOEXEC,
            O_SYNC,
            O_PATH,
            0o4000000,
        ];
        let mut values: Vec<u64> = subsets(OPEN_CLASS_MASK);
        for &o in &others {
            values.extend(subsets(OPEN_CLASS_MASK).into_iter().map(|v| v | o));
        }
        for a in others {
            for b in others {
                values.push(a | b | O_WRONLY);
            }
        }
        for f in values {
            let rendered = render(FILE_FLAGS, open_flags_to_ppm(f));
            let mut got: Vec<&str> = rendered.split('|').collect();
            got.sort_unstable();
            let mut want: Vec<&str> = OPEN_FLAG_NAMES
                .iter()
                .filter(|(_, b)| b.shown(f).unwrap_or(false))
                .map(|(n, _)| *n)
                .collect();
            want.sort_unstable();
            assert_eq!(got, want, "flags {f:#o}");
            // the names not decided by the flags are never shown for an open
            assert!(OPEN_FLAG_NAMES
                .iter()
                .filter(|(_, b)| *b == FlagBits::Other)
                .all(|(n, _)| !got.contains(n)));
        }
    }

    #[test]
    fn modes_and_enums() {
        assert_eq!(octal(0o644), "0644");
        assert_eq!(octal(0), "0");
        assert_eq!(
            render(CHMOD_MODE, 0o755),
            "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR"
        );
        assert_eq!(render(CHMOD_MODE, 0o4000), "S_ISUID");
        assert_eq!(render_enum(SOCKET_FAMILIES, 17), "AF_PACKET");
        assert_eq!(render_enum(SOCKET_FAMILIES, 2), "AF_INET");
        assert_eq!(render_enum(SOCKET_FAMILIES, 1), "AF_LOCAL");
        assert_eq!(render_enum(SOCKET_FAMILIES, 99), "99");
        assert_eq!(ptrace_request_name(16), "PTRACE_ATTACH");
        assert_eq!(ptrace_request_name(0x4206), "PTRACE_SEIZE");
        assert_eq!(
            render(CLONE_FLAGS, clone_flags_to_ppm(0x2000_0000 | 0x0002_0000)),
            "CLONE_NEWNS|CLONE_NEWPID"
        );
        assert_eq!(render_or_num(UNLINKAT_FLAGS, 0), "0");
        assert_eq!(render_or_num(UNLINKAT_FLAGS, 0x200), "AT_REMOVEDIR");
    }
}
