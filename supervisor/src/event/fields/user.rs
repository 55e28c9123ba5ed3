//! `user.*` and `group.*`: the caller's ids, named from the container's own
//! `/etc/passwd` and `/etc/group` (read once per session).

use std::sync::Arc;

use tiercel_rules::event::{Field, Value};

use super::s;
use crate::event::builder::SyscallEvent;
use crate::event::procfs::UserDb;

impl SyscallEvent {
    fn loginuid(&self) -> Option<i64> {
        *self.loginuid.get_or_init(|| {
            let b = self.pd()?.read("loginuid").ok()?;
            let v: u32 = std::str::from_utf8(&b).ok()?.trim().parse().ok()?;
            Some(if v == u32::MAX { -1 } else { i64::from(v) })
        })
    }

    fn userdb(&self) -> Option<&UserDb> {
        self.userdb
            .get_or_init(|| {
                let mut g = self.ctx.userdb.lock().ok()?;
                if g.is_none() {
                    let pd = self.pd()?;
                    *g = Some(Arc::new(UserDb::load(&pd.entry("root"))));
                }
                g.clone()
            })
            .as_deref()
    }

    pub(in crate::event) fn user_name(&self, uid: u32) -> Option<String> {
        self.userdb()?.users.get(&uid).cloned()
    }

    pub(in crate::event) fn group_name(&self, gid: u32) -> Option<String> {
        self.userdb()?.groups.get(&gid).cloned()
    }

    /// The `user` class: `None` for fields of other classes and fields this event has none of.
    pub(super) fn user_field(&self, name: Field) -> Option<Value<'_>> {
        match name {
            Field::UserUid => Some(Value::U64(u64::from(self.status()?.uid[1]))),
            Field::UserName => {
                // A uid without an entry in the container's /etc/passwd has no name.
                s(self.user_name(self.status()?.uid[1])?)
            }
            Field::UserLoginuid => Some(Value::I64(self.loginuid()?)),
            Field::UserLoginname => {
                let l = self.loginuid()?;
                if l < 0 {
                    return None;
                }
                s(self.user_name(l as u32)?)
            }
            Field::GroupGid => Some(Value::U64(u64::from(self.status()?.gid[1]))),
            Field::GroupName => s(self.group_name(self.status()?.gid[1])?),
            Field::UserHomedir | Field::UserShell => {
                let uid = self.status()?.uid[1];
                let e = self.userdb()?.entries.get(&uid)?;
                s(if name == Field::UserHomedir {
                    e.0.clone()
                } else {
                    e.1.clone()
                })
            }
            _ => None,
        }
    }
}
