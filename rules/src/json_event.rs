//! An [`Event`] read from a JSON object keyed by field names as written, for
//! `tiercel rules eval` and tests:
//!
//! ```json
//! {"evt.type": "openat", "fd.name": "/etc/shadow", "proc.aname[2]": "sshd",
//!  "proc.aname": ["bash", "sshd"], "evt.is_open_read": true, "fd.num": 3}
//! ```
//!
//! Keys are resolved once, at construction, into `(Field, FieldArg)`; values are
//! converted by the field's type (strings, numbers, booleans, IPs; arrays become
//! [`Value::List`], e.g. every ancestor for `proc.aname` without argument, or
//! `[client, server]` for `fd.ip`). `evt.type` gives the event type. A field absent from
//! the object is missing (every comparison on it is false).

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::Value as Json;

use crate::event::{Event, FieldArg, Value};
use crate::evttype::EventType;
use crate::fields::{self, Field, FieldType};

/// Why a JSON event was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonEventError {
    #[error("the event is not a JSON object")]
    NotAnObject,
    #[error("unknown field '{0}': {1}")]
    UnknownField(String, String),
    #[error("field '{0}': value {1} does not fit type {2}")]
    BadValue(String, String, &'static str),
    #[error("missing or unknown \"evt.type\"")]
    NoEventType,
}

/// A JSON-described event.
#[derive(Debug, Clone)]
pub struct JsonEvent {
    etype: EventType,
    /// Per field, its (argument, value) pairs: lookups never allocate.
    values: HashMap<Field, Vec<(FieldArg, Value<'static>)>>,
}

impl JsonEvent {
    /// Builds an event from a JSON object. `evt.type` is required and must be a Falco
    /// event name.
    pub fn from_json(v: &Json) -> Result<JsonEvent, JsonEventError> {
        let obj = v.as_object().ok_or(JsonEventError::NotAnObject)?;
        let mut values = HashMap::with_capacity(obj.len());
        for (k, val) in obj {
            let (name, arg) = split_key(k);
            let (info, farg) = fields::resolve(name, arg)
                .map_err(|e| JsonEventError::UnknownField(k.clone(), e.message().to_string()))?;
            if val.is_null() {
                continue;
            }
            let value = convert(info.ftype, val).ok_or_else(|| {
                JsonEventError::BadValue(k.clone(), val.to_string(), info.ftype.name())
            })?;
            insert(&mut values, info.field, farg, value);
        }
        let etype = match values
            .get(&Field::EvtType)
            .and_then(|v| v.first())
            .map(|(_, v)| v)
        {
            Some(Value::Str(s)) => EventType::from_name(s).ok_or(JsonEventError::NoEventType)?,
            _ => return Err(JsonEventError::NoEventType),
        };
        Ok(JsonEvent { etype, values })
    }

    /// Parses a JSON text.
    pub fn parse(text: &str) -> Result<JsonEvent, JsonEventError> {
        let v: Json = serde_json::from_str(text).map_err(|_| JsonEventError::NotAnObject)?;
        Self::from_json(&v)
    }

    /// Sets (or replaces) a value.
    pub fn set(&mut self, field: Field, arg: FieldArg, value: Value<'static>) {
        if field == Field::EvtType {
            if let Value::Str(s) = &value {
                if let Some(t) = EventType::from_name(s) {
                    self.etype = t;
                }
            }
        }
        insert(&mut self.values, field, arg, value);
    }
}

fn insert(
    map: &mut HashMap<Field, Vec<(FieldArg, Value<'static>)>>,
    field: Field,
    arg: FieldArg,
    value: Value<'static>,
) {
    let v = map.entry(field).or_default();
    match v.iter_mut().find(|(a, _)| *a == arg) {
        Some(slot) => slot.1 = value,
        None => v.push((arg, value)),
    }
}

/// `proc.aname[2]` → (`proc.aname`, Some("2")); quotes around the argument are removed.
fn split_key(k: &str) -> (&str, Option<&str>) {
    if let Some(open) = k.find('[') {
        if let Some(inner) = k[open + 1..].strip_suffix(']') {
            let inner = inner
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                .unwrap_or(inner);
            return (&k[..open], Some(inner));
        }
    }
    (k, None)
}

fn convert(t: FieldType, v: &Json) -> Option<Value<'static>> {
    if let Json::Array(items) = v {
        return items
            .iter()
            .map(|i| convert(t, i))
            .collect::<Option<Vec<_>>>()
            .map(Value::List);
    }
    Some(match t {
        FieldType::String => Value::Str(Cow::Owned(match v {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        })),
        FieldType::ByteBuf => Value::Bytes(Cow::Owned(v.as_str()?.as_bytes().to_vec())),
        FieldType::Bool => Value::Bool(match v {
            Json::Bool(b) => *b,
            Json::String(s) if s == "true" => true,
            Json::String(s) if s == "false" => false,
            _ => return None,
        }),
        FieldType::Int64 => Value::I64(match v {
            Json::Number(n) => n.as_i64()?,
            Json::String(s) => s.parse().ok()?,
            _ => return None,
        }),
        FieldType::Uint64 | FieldType::Port => Value::U64(match v {
            Json::Number(n) => n.as_u64()?,
            Json::String(s) => s.parse().ok()?,
            _ => return None,
        }),
        FieldType::AbsTime | FieldType::RelTime => Value::Time(match v {
            Json::Number(n) => n.as_u64()?,
            Json::String(s) => s.parse().ok()?,
            _ => return None,
        }),
        FieldType::Double => Value::Double(match v {
            Json::Number(n) => n.as_f64()?,
            _ => return None,
        }),
        FieldType::IpAddr | FieldType::IpNet => Value::Ip(v.as_str()?.parse::<IpAddr>().ok()?),
    })
}

impl Event for JsonEvent {
    fn event_type(&self) -> EventType {
        self.etype
    }

    fn extract(&self, field: Field, arg: &FieldArg) -> Option<Value<'_>> {
        // Values are cloned shallowly: borrowed strings point into the event.
        let (_, v) = self.values.get(&field)?.iter().find(|(a, _)| a == arg)?;
        Some(borrow(v))
    }
}

fn borrow<'a>(v: &'a Value<'static>) -> Value<'a> {
    match v {
        Value::Str(s) => Value::Str(Cow::Borrowed(s.as_ref())),
        Value::Bytes(b) => Value::Bytes(Cow::Borrowed(b.as_ref())),
        Value::List(l) => Value::List(l.iter().map(borrow).collect()),
        Value::U64(n) => Value::U64(*n),
        Value::I64(n) => Value::I64(*n),
        Value::Bool(b) => Value::Bool(*b),
        Value::Ip(ip) => Value::Ip(*ip),
        Value::Time(t) => Value::Time(*t),
        Value::Double(d) => Value::Double(*d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_from_json() {
        let e = JsonEvent::parse(
            r#"{"evt.type":"openat","fd.name":"/etc/shadow","proc.aname[2]":"sshd","evt.arg.flags":"O_RDONLY","fd.num":3,"evt.is_open_read":true,"fd.sip":"10.0.0.1"}"#,
        )
        .unwrap();
        assert_eq!(e.event_type().name(), "openat");
        assert_eq!(
            e.extract(Field::FdName, &FieldArg::None),
            Some(Value::str("/etc/shadow"))
        );
        assert_eq!(
            e.extract(Field::ProcAname, &FieldArg::Index(2)),
            Some(Value::str("sshd"))
        );
        assert_eq!(
            e.extract(Field::EvtArg, &FieldArg::Name("flags".into())),
            Some(Value::str("O_RDONLY"))
        );
        assert_eq!(
            e.extract(Field::FdNum, &FieldArg::None),
            Some(Value::I64(3))
        );
        assert_eq!(e.extract(Field::ProcName, &FieldArg::None), None);
        assert!(JsonEvent::parse(r#"{"fd.name":"x"}"#).is_err());
        assert!(JsonEvent::parse(r#"{"evt.type":"openat","proc.nobody":1}"#).is_err());
    }
}
