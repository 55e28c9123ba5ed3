//! One check against an event: the operand's value, then the matcher, with Falco's
//! rules for missing values and list values (see [`super`]). The common cases (a
//! borrowed string, a number, a boolean) allocate, copy and drop nothing.

use std::borrow::Cow;

use super::compare::{cmp_const, cmp_values, str_op, value_bytes, value_text};
use super::ir::{CheckNode, CmpOp, Const, Matcher, Operand, SetMatcher};
use super::matchers::{len_bit, path_components, short_eq, StrOp};
use crate::ast::ListModifier;
use crate::event::{Event, FieldArg, Value};
use crate::fields::Field;

impl CheckNode {
    /// `evt.type <op> <constants>`: decided by the event type alone.
    pub(crate) fn is_evt_type(&self) -> bool {
        matches!(
            self.lhs,
            Operand::Field {
                field: Field::EvtType,
                arg: FieldArg::None
            }
        ) && !matches!(self.matcher, Matcher::Operand(..))
    }

    #[inline]
    pub(crate) fn eval(&self, ev: &dyn Event) -> bool {
        let Some(v) = self.lhs.extract(ev) else {
            return false;
        };
        // Values that own nothing (borrowed strings, numbers ...) are forgotten rather
        // than dropped: that saves a call to the drop glue per check. Others are dropped
        // as usual.
        let (r, owns_nothing) = match &v {
            Value::Str(Cow::Borrowed(s)) => (self.matcher.test_str(s, ev), true),
            Value::Bytes(Cow::Borrowed(_))
            | Value::U64(_)
            | Value::I64(_)
            | Value::Bool(_)
            | Value::Ip(_)
            | Value::Time(_)
            | Value::Double(_) => (self.eval_value(&v, ev), true),
            Value::Str(Cow::Owned(_)) | Value::Bytes(Cow::Owned(_)) | Value::List(_) => {
                (self.eval_value(&v, ev), false)
            }
        };
        if owns_nothing {
            std::mem::forget(v);
        }
        r
    }

    fn eval_value(&self, v: &Value<'_>, ev: &dyn Event) -> bool {
        if let Matcher::Exists = self.matcher {
            return true;
        }
        match (v, &self.matcher) {
            (Value::List(items), Matcher::Set(set)) if self.lhs_is_list => {
                if set.intersects {
                    items.iter().any(|i| set.contains(i))
                } else {
                    items.iter().all(|i| set.contains(i))
                }
            }
            (Value::List(items), m) => items.iter().any(|i| m.test(i, ev)),
            (v, m) => m.test(v, ev),
        }
    }
}

impl SetMatcher {
    fn contains(&self, v: &Value<'_>) -> bool {
        if let Some(strs) = &self.strs {
            let t = value_text(v);
            return self.str_lens & len_bit(t.len()) != 0 && strs.contains(t.as_ref());
        }
        self.items.iter().any(|c| cmp_const(v, CmpOp::Eq, c))
    }
}

impl Matcher {
    /// [`Matcher::test`] of a string value.
    #[inline]
    fn test_str(&self, s: &str, ev: &dyn Event) -> bool {
        match self {
            Matcher::Cmp(CmpOp::Eq, Const::Str(c)) => short_eq(s.as_bytes(), c.as_bytes()),
            Matcher::Cmp(CmpOp::Ne, Const::Str(c)) => !short_eq(s.as_bytes(), c.as_bytes()),
            Matcher::Str(p) => p.test(s.as_bytes()),
            Matcher::Set(set) => match &set.strs {
                Some(strs) => set.str_lens & len_bit(s.len()) != 0 && strs.contains(s),
                None => set.contains(&Value::Str(Cow::Borrowed(s))),
            },
            Matcher::Exists => true,
            _ => self.test(&Value::Str(Cow::Borrowed(s)), ev),
        }
    }

    fn test(&self, v: &Value<'_>, ev: &dyn Event) -> bool {
        match self {
            Matcher::Exists => true,
            Matcher::Cmp(op, c) => cmp_const(v, *op, c),
            Matcher::Str(p) => p.test(&value_bytes(v)),
            Matcher::Glob(g) => g.matches(&value_text(v)),
            Matcher::Regex(r) => r.is_match(&value_text(v)),
            Matcher::Set(s) => s.contains(v),
            Matcher::Pmatch(pats) => {
                let t = value_text(v);
                pats.iter().any(|p| {
                    let mut comps = path_components(&t);
                    p.iter().all(|g| comps.next().is_some_and(|c| g.matches(c)))
                })
            }
            Matcher::Modifier(kind, items) => {
                if items.is_empty() {
                    return false;
                }
                match kind {
                    ListModifier::AnyOf => items.iter().any(|m| m.test(v, ev)),
                    ListModifier::AllOf => items.iter().all(|m| m.test(v, ev)),
                    ListModifier::OneOf => items.iter().filter(|m| m.test(v, ev)).count() == 1,
                }
            }
            Matcher::Operand(op, sop, rhs) => {
                let Some(r) = rhs.extract(ev) else {
                    return false;
                };
                let r = match r {
                    Value::List(mut l) if !l.is_empty() => l.swap_remove(0),
                    Value::List(_) => return false,
                    r => r,
                };
                if let Some(sop) = sop {
                    let pat = match sop {
                        StrOp::IContains => value_text(&r).to_ascii_lowercase().into_bytes(),
                        _ => value_bytes(&r).into_owned(),
                    };
                    return str_op(v, *sop, &pat);
                }
                cmp_values(v, *op, &r)
            }
        }
    }
}
