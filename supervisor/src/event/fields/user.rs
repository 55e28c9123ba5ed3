//! `user.*` and `group.*`: the caller's ids, named from the container's own
//! `/etc/passwd` and `/etc/group` (read in-root once per container, re-read when they change).

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Instant;

use tiercel_rules::event::{Field, Value};

use super::s;
use crate::event::builder::SyscallEvent;
use crate::event::container::USERDB_RECHECK;
use crate::event::procfs::UserDb;

impl SyscallEvent {
    fn loginuid(&self) -> Option<i64> {
        *self.loginuid.get_or_init(|| {
            let b = self.pd()?.read("loginuid").ok()?;
            let v: u32 = std::str::from_utf8(&b).ok()?.trim().parse().ok()?;
            Some(if v == u32::MAX { -1 } else { i64::from(v) })
        })
    }

    /// The container's user db: read once per container (shared by its sessions), then
    /// checked against its files at most every [`USERDB_RECHECK`] and re-read on a change.
    fn userdb(&self) -> Option<&UserDb> {
        self.userdb
            .get_or_init(|| {
                let mut g = self.ctx.tables.userdb.lock().ok()?;
                let fresh = match &*g {
                    Some((db, checked)) if checked.elapsed() < USERDB_RECHECK => {
                        return Some(db.clone());
                    }
                    Some((db, _)) => {
                        let root = self.pd()?.open_root().ok()?;
                        if db.unchanged(root.as_fd()) {
                            Some(db.clone())
                        } else {
                            None
                        }
                    }
                    None => None,
                };
                let db = match fresh {
                    Some(db) => db,
                    None => {
                        let root = self.pd()?.open_root().ok()?;
                        Arc::new(UserDb::load_in(root.as_fd()))
                    }
                };
                *g = Some((db.clone(), Instant::now()));
                Some(db)
            })
            .as_deref()
    }

    /// Reads now (into the event) the login uid and the container's user db.
    pub(in crate::event) fn capture_user(&self) {
        let _ = self.loginuid();
        let _ = self.userdb();
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
