//! `fs.path.*`: the path arguments of file-system calls (the new name of a
//! rename/link, the link path of a symlink...), served in the event's current view.

use std::borrow::Cow;

use tiercel_rules::event::{Field, Value};

use super::{lossy, s};
use crate::event::builder::SyscallEvent;

impl SyscallEvent {
    /// The `fs` class: `None` for fields of other classes and fields this event has none of.
    pub(super) fn fs_field(&self, name: Field) -> Option<Value<'_>> {
        match name {
            Field::FsPathName => {
                let i = self
                    .d
                    .paths
                    .iter()
                    .position(|p| !matches!(p.param, "oldpath" | "target"))?;
                s(lossy(self.path_value(i)?).into_owned())
            }
            Field::FsPathNameraw => {
                let p = self
                    .d
                    .paths
                    .iter()
                    .find(|p| !matches!(p.param, "oldpath" | "target"))?;
                s(lossy(&p.raw).into_owned())
            }
            Field::FsPathSource
            | Field::FsPathSourceraw
            | Field::FsPathTarget
            | Field::FsPathTargetraw => {
                let src = matches!(name, Field::FsPathSource | Field::FsPathSourceraw);
                let raw = matches!(name, Field::FsPathSourceraw | Field::FsPathTargetraw);
                let pname = match (self.d.name, src) {
                    ("symlink" | "symlinkat", true) => {
                        return self
                            .d
                            .params
                            .iter()
                            .find(|p| p.name == "target")
                            .and_then(|p| self.render_param(p))
                            .map(|x| Value::Str(Cow::Owned(x)));
                    }
                    ("symlink" | "symlinkat", false) => "linkpath",
                    (_, true) => "oldpath",
                    (_, false) => "newpath",
                };
                let i = self.d.paths.iter().position(|p| p.param == pname)?;
                if raw {
                    s(lossy(&self.d.paths[i].raw))
                } else {
                    s(lossy(self.path_value(i)?))
                }
            }
            _ => None,
        }
    }
}
