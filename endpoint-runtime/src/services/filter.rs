//! Directus's filter rules: `{"status": {"_eq": "published"}}`, `_and` / `_or`, relational
//! filters through many-to-one fields (`{"author": {"name": {"_eq": "Ann"}}}`) and the dynamic
//! values `$CURRENT_USER`, `$CURRENT_ROLE`, `$CURRENT_ROLES` and `$NOW`.
//!
//! A filter is parsed against the schema into a [`Filter`] (every field checked, every value
//! coerced to its field's kind), then compiled into a sea-query condition whose values are
//! bound, never formatted into the SQL, or evaluated in memory against a payload (the
//! permissions' validation rules).

use serde_json::{Map, Value};

use super::QueryError;
use crate::schema::{Collection, Field, FieldKind, Schema};

/// How deep `_and` / `_or` and relational filters may nest: past it a filter is refused
/// (400 `INVALID_QUERY`) before any SQL is built.
pub(crate) const MAX_DEPTH: usize = 8;

/// A parsed filter over one collection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    /// Every part holds (`_and`, or several keys in one object).
    All(Vec<Filter>),
    /// Some part holds (`_or`).
    Any(Vec<Filter>),
    /// A comparison on a field of the collection.
    Compare {
        /// The field.
        field: String,
        /// The operator.
        op: Op,
        /// The operand, as written (a dynamic value is resolved when the filter is used).
        value: Value,
    },
    /// A filter on the row a many-to-one field points to.
    Related {
        /// The foreign-key field.
        field: String,
        /// The related collection.
        collection: String,
        /// The field of the related collection the key points to.
        key: String,
        /// The filter on the related collection.
        filter: Box<Filter>,
    },
}

impl Filter {
    /// Whether every row this filter admits is admitted by `other` too, as far as their
    /// shapes show: each condition `other` ANDs is one this filter ANDs (the same field,
    /// operator and value, dynamic values unresolved, so they resolve alike). `false` when
    /// that cannot be seen from the shapes, never `true` wrongly.
    pub(crate) fn implies(&self, other: &Filter) -> bool {
        let mine = self.conjuncts();
        other.conjuncts().iter().all(|part| mine.contains(part))
    }

    /// The conditions this filter ANDs, `_and` nesting flattened.
    fn conjuncts(&self) -> Vec<&Filter> {
        match self {
            Filter::All(parts) => parts.iter().flat_map(Filter::conjuncts).collect(),
            other => vec![other],
        }
    }
}

/// A comparison operator of Directus's filter rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    Nin,
    Null,
    Nnull,
    Contains,
    Ncontains,
    StartsWith,
    EndsWith,
    Between,
}

impl Op {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "_eq" => Op::Eq,
            "_neq" => Op::Neq,
            "_lt" => Op::Lt,
            "_lte" => Op::Lte,
            "_gt" => Op::Gt,
            "_gte" => Op::Gte,
            "_in" => Op::In,
            "_nin" => Op::Nin,
            "_null" => Op::Null,
            "_nnull" => Op::Nnull,
            "_contains" => Op::Contains,
            "_ncontains" => Op::Ncontains,
            "_starts_with" => Op::StartsWith,
            "_ends_with" => Op::EndsWith,
            "_between" => Op::Between,
            _ => return None,
        })
    }
}

/// The caller's values for the dynamic variables.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dynamic {
    pub(crate) user: Option<String>,
    pub(crate) role: Option<String>,
    pub(crate) roles: Vec<String>,
    /// `$NOW`, RFC 3339 in UTC with seconds: read from the clock the first time a rule uses it,
    /// then the same for the whole call.
    pub(crate) now: std::sync::OnceLock<String>,
}

impl Dynamic {
    /// `value` with a dynamic variable replaced by the caller's value (`null` when the caller
    /// has none); any other value unchanged.
    pub(crate) fn resolve(&self, value: &Value) -> Value {
        match value.as_str() {
            Some("$CURRENT_USER") => self.user.clone().map_or(Value::Null, Value::String),
            Some("$CURRENT_ROLE") => self.role.clone().map_or(Value::Null, Value::String),
            Some("$CURRENT_ROLES") => {
                Value::Array(self.roles.iter().cloned().map(Value::String).collect())
            }
            Some("$NOW") => Value::String(
                self.now
                    .get_or_init(|| {
                        humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
                    })
                    .clone(),
            ),
            _ => value.clone(),
        }
    }
}

/// Whether `value` is one of the dynamic variables.
fn is_dynamic(value: &Value) -> bool {
    matches!(
        value.as_str(),
        Some("$CURRENT_USER" | "$CURRENT_ROLE" | "$CURRENT_ROLES" | "$NOW")
    )
}

/// Parses `value`, a filter object at `path` (`filter`), over `collection`.
pub(crate) fn parse(
    value: &Value,
    collection: &Collection,
    schema: &Schema,
    path: &str,
) -> Result<Filter, QueryError> {
    parse_at(value, collection, schema, path, 0)
}

fn parse_at(
    value: &Value,
    collection: &Collection,
    schema: &Schema,
    path: &str,
    depth: usize,
) -> Result<Filter, QueryError> {
    if depth > MAX_DEPTH {
        return Err(QueryError::new(
            path,
            format!("filters nest at most {MAX_DEPTH} levels deep"),
        ));
    }
    let Value::Object(object) = value else {
        return Err(QueryError::new(path, "a filter is an object"));
    };
    let mut parts = Vec::new();
    for (key, inner) in object {
        let at = format!("{path}.{key}");
        parts.push(match key.as_str() {
            "_and" | "_or" => {
                let Value::Array(items) = inner else {
                    return Err(QueryError::new(&at, format!("`{key}` takes an array of filters")));
                };
                let filters = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| parse_at(item, collection, schema, &format!("{at}[{i}]"), depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                if key == "_and" {
                    Filter::All(filters)
                } else {
                    Filter::Any(filters)
                }
            }
            name if name.starts_with('_') => {
                return Err(QueryError::new(&at, format!("unknown operator `{name}` here: a filter's keys are fields, `_and` or `_or`")));
            }
            name => field_filter(name, inner, collection, schema, &at, depth)?,
        });
    }
    Ok(match parts.len() {
        1 => parts.remove(0),
        _ => Filter::All(parts),
    })
}

/// The filter `{name: inner}`: comparisons on the field, or a relational filter.
fn field_filter(
    name: &str,
    inner: &Value,
    collection: &Collection,
    schema: &Schema,
    path: &str,
    depth: usize,
) -> Result<Filter, QueryError> {
    let Some(field) = collection.field(name) else {
        return Err(QueryError::new(
            path,
            format!("`{}` has no field `{name}`", collection.name),
        ));
    };
    let Value::Object(ops) = inner else {
        return Err(QueryError::new(
            path,
            "a field's filter is an object of operators, such as {\"_eq\": 1}",
        ));
    };
    let relational = ops.keys().any(|k| !k.starts_with('_'));
    if relational {
        let Some(relation) = schema.relation(&collection.name, name) else {
            return Err(QueryError::new(
                path,
                format!("`{name}` is not a relation: its filter takes operators such as `_eq`"),
            ));
        };
        let Some(related) = schema.collection(&relation.related_collection) else {
            return Err(QueryError::new(
                path,
                "the related collection is not in the schema",
            ));
        };
        return Ok(Filter::Related {
            field: name.to_string(),
            collection: related.name.clone(),
            key: relation.related_field.clone(),
            filter: Box::new(parse_at(inner, related, schema, path, depth + 1)?),
        });
    }
    let mut parts = Vec::new();
    for (op_name, operand) in ops {
        let at = format!("{path}.{op_name}");
        let Some(op) = Op::parse(op_name) else {
            return Err(QueryError::new(
                &at,
                format!("unknown operator `{op_name}`"),
            ));
        };
        parts.push(Filter::Compare {
            field: name.to_string(),
            op,
            value: operand_for(op, operand, field, &at)?,
        });
    }
    Ok(match parts.len() {
        1 => parts.remove(0),
        _ => Filter::All(parts),
    })
}

/// Checks and coerces the operand of `op` on `field`.
fn operand_for(op: Op, operand: &Value, field: &Field, path: &str) -> Result<Value, QueryError> {
    match op {
        Op::Null | Op::Nnull => match operand {
            Value::Bool(_) => Ok(operand.clone()),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            _ => Err(QueryError::new(path, "takes `true` or `false`")),
        },
        Op::In | Op::Nin => {
            let items =
                listed(operand).ok_or_else(|| QueryError::new(path, "takes an array of values"))?;
            coerce_all(&items, field, path)
        }
        Op::Between => match listed(operand) {
            Some(items) if items.len() == 2 => coerce_all(&items, field, path),
            _ => Err(QueryError::new(path, "takes two values: [low, high]")),
        },
        Op::Contains | Op::Ncontains | Op::StartsWith | Op::EndsWith => match operand {
            Value::String(_) => Ok(operand.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            _ => Err(QueryError::new(path, "takes a string")),
        },
        Op::Eq | Op::Neq | Op::Lt | Op::Lte | Op::Gt | Op::Gte => coerce(operand, field, path),
    }
}

/// The values of a list operand: an array, or the query string's `1,2,3`.
fn listed(operand: &Value) -> Option<Vec<Value>> {
    match operand {
        Value::Array(items) => Some(items.clone()),
        Value::String(s) => Some(s.split(',').map(|s| Value::String(s.to_string())).collect()),
        _ => None,
    }
}

/// Each of `items` coerced to `field`'s kind, an error naming `path[i]`.
fn coerce_all(items: &[Value], field: &Field, path: &str) -> Result<Value, QueryError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| coerce(item, field, &format!("{path}[{i}]")))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// `value` as a value of `field`'s kind: a query string's `"5"` for an integer field is 5; a
/// value that cannot be one is an error naming `path`. Dynamic values are kept as written.
pub(crate) fn coerce(value: &Value, field: &Field, path: &str) -> Result<Value, QueryError> {
    if value.is_null() || is_dynamic(value) {
        return Ok(value.clone());
    }
    let wrong = |expected: &str| {
        QueryError::new(
            path,
            format!("`{}` holds {expected}, not {value}", field.name),
        )
    };
    match field.kind {
        FieldKind::Integer => match value {
            Value::Number(n) if n.is_i64() => Ok(value.clone()),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| wrong("integers")),
            _ => Err(wrong("integers")),
        },
        FieldKind::Float | FieldKind::Decimal => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(s) if field.kind == FieldKind::Decimal => s
                .trim()
                .parse::<f64>()
                .map(|_| Value::String(s.trim().to_string()))
                .map_err(|_| wrong("numbers")),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| wrong("numbers")),
            _ => Err(wrong("numbers")),
        },
        FieldKind::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s == "true" || s == "1" => Ok(Value::Bool(true)),
            Value::String(s) if s == "false" || s == "0" => Ok(Value::Bool(false)),
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                Ok(Value::Bool(n.as_i64() == Some(1)))
            }
            _ => Err(wrong("booleans")),
        },
        FieldKind::Json => Ok(value.clone()),
        _ => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(wrong("text")),
        },
    }
}

impl Filter {
    /// Whether the filter reaches another collection.
    pub(crate) fn is_relational(&self) -> bool {
        match self {
            Filter::All(parts) | Filter::Any(parts) => parts.iter().any(Filter::is_relational),
            Filter::Compare { .. } => false,
            Filter::Related { .. } => true,
        }
    }

    /// The first field of `item` (a payload) this filter does not hold for, or `None` when it
    /// holds; relational parts are never in a validation rule (refused at start-up). With
    /// `partial` (an update), a field the payload does not set is not checked.
    pub(crate) fn failing_field(
        &self,
        item: &Map<String, Value>,
        dynamic: &Dynamic,
        partial: bool,
    ) -> Option<String> {
        match self {
            Filter::All(parts) => parts
                .iter()
                .find_map(|p| p.failing_field(item, dynamic, partial)),
            Filter::Any(parts) => {
                let failures: Vec<String> = parts
                    .iter()
                    .filter_map(|p| p.failing_field(item, dynamic, partial))
                    .collect();
                if failures.len() == parts.len() {
                    failures.into_iter().next()
                } else {
                    None
                }
            }
            Filter::Compare { field, .. } if partial && !item.contains_key(field) => None,
            Filter::Compare { field, op, value } => {
                let actual = item.get(field).unwrap_or(&Value::Null);
                let operand = match value {
                    Value::Array(items) => {
                        Value::Array(items.iter().map(|v| dynamic.resolve(v)).collect())
                    }
                    other => dynamic.resolve(other),
                };
                (!holds(*op, actual, &operand)).then(|| field.clone())
            }
            Filter::Related { field, .. } => Some(field.clone()),
        }
    }
}

/// Whether `actual op operand` holds, for in-memory validation.
fn holds(op: Op, actual: &Value, operand: &Value) -> bool {
    use std::cmp::Ordering;
    let order = |a: &Value, b: &Value| -> Option<Ordering> {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
            (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
            _ => None,
        }
    };
    let same = |a: &Value, b: &Value| order(a, b) == Some(Ordering::Equal) || a == b;
    let text = |v: &Value| v.as_str().map(str::to_string);
    match op {
        Op::Eq => same(actual, operand),
        Op::Neq => !same(actual, operand),
        Op::Lt => order(actual, operand) == Some(Ordering::Less),
        Op::Lte => matches!(
            order(actual, operand),
            Some(Ordering::Less | Ordering::Equal)
        ),
        Op::Gt => order(actual, operand) == Some(Ordering::Greater),
        Op::Gte => matches!(
            order(actual, operand),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        Op::In => operand
            .as_array()
            .is_some_and(|items| items.iter().any(|i| same(actual, i))),
        Op::Nin => operand
            .as_array()
            .is_some_and(|items| !items.iter().any(|i| same(actual, i))),
        Op::Null => actual.is_null() == operand.as_bool().unwrap_or(true),
        Op::Nnull => actual.is_null() != operand.as_bool().unwrap_or(true),
        Op::Contains => {
            matches!((text(actual), text(operand)), (Some(a), Some(b)) if a.contains(&b))
        }
        Op::Ncontains => {
            !matches!((text(actual), text(operand)), (Some(a), Some(b)) if a.contains(&b))
        }
        Op::StartsWith => {
            matches!((text(actual), text(operand)), (Some(a), Some(b)) if a.starts_with(&b))
        }
        Op::EndsWith => {
            matches!((text(actual), text(operand)), (Some(a), Some(b)) if a.ends_with(&b))
        }
        Op::Between => operand.as_array().is_some_and(|range| {
            range.len() == 2
                && matches!(
                    order(actual, &range[0]),
                    Some(Ordering::Greater | Ordering::Equal)
                )
                && matches!(
                    order(actual, &range[1]),
                    Some(Ordering::Less | Ordering::Equal)
                )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eq(field: &str, value: Value) -> Filter {
        Filter::Compare {
            field: field.into(),
            op: Op::Eq,
            value,
        }
    }

    #[test]
    fn a_filter_implies_the_conditions_it_ands() {
        let published = eq("status", json!("published"));
        let own = eq("user_id", json!("$CURRENT_USER"));
        let both = Filter::All(vec![own.clone(), published.clone()]);
        assert!(published.implies(&published));
        assert!(both.implies(&published));
        assert!(Filter::All(vec![both.clone()]).implies(&own));
        assert!(both.implies(&Filter::All(vec![published.clone(), own.clone()])));
        // An empty rule admits every row: anything implies it.
        assert!(published.implies(&Filter::All(vec![])));
        // Not from the shapes: a different value, an `_or`, a condition not ANDed.
        assert!(!published.implies(&eq("status", json!("draft"))));
        assert!(!published.implies(&both));
        assert!(!Filter::Any(vec![published.clone(), own.clone()]).implies(&published));
        assert!(!Filter::All(vec![]).implies(&published));
    }
}
