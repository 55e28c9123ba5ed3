//! The container root's overlayfs layers (from `/proc/<tid>/mountinfo`), for
//! `proc.is_exe_upper_layer` and the `EXE_UPPER_LAYER`/`EXE_LOWER_LAYER` exe flags.

use std::path::PathBuf;

/// Unescapes mountinfo's octal escapes (`\040` space, `\054` comma, `\134` backslash).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `upperdir` of the overlay mounted at `/` in a mountinfo text, if `/` is an overlay.
pub fn root_upperdir(mountinfo: &str) -> Option<PathBuf> {
    // The last mount on "/" wins (mounts stack).
    let line = mountinfo
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some("/"))?;
    let (_, post) = line.split_once(" - ")?;
    let mut it = post.split(' ');
    if it.next()? != "overlay" {
        return None;
    }
    let _source = it.next()?;
    let opts = it.next()?;
    opts.split(',')
        .find_map(|o| o.strip_prefix("upperdir="))
        .map(|u| PathBuf::from(unescape(u)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_upperdir() {
        let mi = "22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw\n\
                  600 550 0:55 / / rw,relatime - overlay overlay rw,lowerdir=/l1:/l2,upperdir=/var/lib/c/x\\054y/diff,workdir=/w\n\
                  601 600 0:56 / /proc rw - proc proc rw\n";
        assert_eq!(
            root_upperdir(mi),
            Some(PathBuf::from("/var/lib/c/x,y/diff"))
        );
        assert_eq!(
            root_upperdir("22 1 0:21 / / rw - ext4 /dev/sda1 rw\n"),
            None
        );
        assert_eq!(root_upperdir("garbage"), None);
        assert_eq!(root_upperdir(""), None);
        assert_eq!(unescape("a\\040b\\"), "a b\\");
    }
}
