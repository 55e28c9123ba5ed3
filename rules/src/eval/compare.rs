//! Values compared with constants and with each other, as Falco does: a value's text,
//! bytes and integer readings, `0x` integers, IPv4-mapped IPv6 addresses compared as
//! IPv4, networks, and the order operators.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;

use super::ir::{CmpOp, Const};
use super::matchers::{bytes_op, StrOp};
use crate::event::Value;

/// A value as text (strings as-is, numbers in decimal, IPs in canonical form).
pub(crate) fn value_text<'a>(v: &'a Value<'_>) -> Cow<'a, str> {
    match v {
        Value::Str(s) => Cow::Borrowed(s.as_ref()),
        Value::Bytes(b) => String::from_utf8_lossy(b),
        Value::U64(n) | Value::Time(n) => Cow::Owned(n.to_string()),
        Value::I64(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Ip(ip) => Cow::Owned(ip.to_string()),
        Value::Double(d) => Cow::Owned(d.to_string()),
        Value::List(items) => Cow::Owned(
            items
                .iter()
                .map(|i| value_text(i).into_owned())
                .collect::<Vec<_>>()
                .join(","),
        ),
    }
}

pub(super) fn value_bytes<'a>(v: &'a Value<'_>) -> Cow<'a, [u8]> {
    match v {
        Value::Bytes(b) => Cow::Borrowed(b.as_ref()),
        Value::Str(s) => Cow::Borrowed(s.as_bytes()),
        other => match value_text(other) {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        },
    }
}

fn value_int(v: &Value<'_>) -> Option<i128> {
    match v {
        Value::U64(n) | Value::Time(n) => Some(i128::from(*n)),
        Value::I64(n) => Some(i128::from(*n)),
        Value::Bool(b) => Some(i128::from(*b)),
        Value::Double(d) => Some(*d as i128),
        Value::Str(s) => parse_int(s),
        _ => None,
    }
}

/// Decimal (optionally signed) or `0x` hex integer.
pub(crate) fn parse_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 32 {
            return None;
        }
        i128::from_str_radix(h, 16).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) || body.len() > 38 {
            return None;
        }
        body.parse::<i128>().ok()?
    };
    Some(if neg { -n } else { n })
}

fn ord_ok(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    }
}

pub(super) fn cmp_const(v: &Value<'_>, op: CmpOp, c: &Const) -> bool {
    match c {
        Const::Str(s) => ord_ok(op, value_text(v).as_ref().cmp(s.as_ref())),
        Const::Bytes(b) => ord_ok(op, value_bytes(v).as_ref().cmp(b.as_ref())),
        Const::Int(n) => match v {
            Value::Double(d) => (*d)
                .partial_cmp(&(*n as f64))
                .is_some_and(|o| ord_ok(op, o)),
            _ => value_int(v).is_some_and(|x| ord_ok(op, x.cmp(n))),
        },
        Const::Double(d) => {
            let x = match v {
                Value::Double(x) => *x,
                other => match value_int(other) {
                    Some(n) => n as f64,
                    None => return false,
                },
            };
            x.partial_cmp(d).is_some_and(|o| ord_ok(op, o))
        }
        Const::Bool(b) => {
            let x = match v {
                Value::Bool(x) => *x,
                Value::Str(s) => match s.as_ref() {
                    "true" => true,
                    "false" => false,
                    _ => return false,
                },
                other => match value_int(other) {
                    Some(n) => n != 0,
                    None => return false,
                },
            };
            ord_ok(op, x.cmp(b))
        }
        Const::Ip(ip) => {
            let x = match v {
                Value::Ip(x) => *x,
                Value::Str(s) => match s.parse::<IpAddr>() {
                    Ok(x) => x,
                    Err(_) => return false,
                },
                _ => return false,
            };
            let eq = canon_ip(x) == canon_ip(*ip);
            match op {
                CmpOp::Eq => eq,
                CmpOp::Ne => !eq,
                _ => false,
            }
        }
        Const::Net(net) => {
            let x = match v {
                Value::Ip(x) => canon_ip(*x),
                Value::Str(s) => match s.parse::<IpAddr>() {
                    Ok(x) => canon_ip(x),
                    Err(_) => return false,
                },
                _ => return false,
            };
            let inside = net.contains(&x);
            match op {
                CmpOp::Eq => inside,
                CmpOp::Ne => !inside,
                _ => false,
            }
        }
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
#[inline]
fn canon_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

pub(super) fn str_op(v: &Value<'_>, op: StrOp, pat: &[u8]) -> bool {
    bytes_op(&value_bytes(v), op, pat)
}

pub(super) fn cmp_values(a: &Value<'_>, op: CmpOp, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Str(_), _) | (_, Value::Str(_)) | (Value::Bytes(_), _) | (_, Value::Bytes(_)) => {
            ord_ok(op, value_bytes(a).as_ref().cmp(value_bytes(b).as_ref()))
        }
        (Value::Ip(x), Value::Ip(y)) => match op {
            CmpOp::Eq => canon_ip(*x) == canon_ip(*y),
            CmpOp::Ne => canon_ip(*x) != canon_ip(*y),
            _ => false,
        },
        (Value::Double(_), _) | (_, Value::Double(_)) => match (as_f64(a), as_f64(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).is_some_and(|o| ord_ok(op, o)),
            _ => false,
        },
        _ => match (value_int(a), value_int(b)) {
            (Some(x), Some(y)) => ord_ok(op, x.cmp(&y)),
            _ => false,
        },
    }
}

fn as_f64(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Double(d) => Some(*d),
        other => value_int(other).map(|n| n as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::ir::IpNet;

    #[test]
    fn nets_and_ints() {
        let n = IpNet {
            addr: "10.0.0.0".parse().unwrap(),
            prefix: 8,
        };
        assert!(n.contains(&"10.1.2.3".parse().unwrap()));
        assert!(!n.contains(&"11.1.2.3".parse().unwrap()));
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("1.5"), None);
    }
}
