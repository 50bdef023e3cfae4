//! Validation from the type: a body, query or path parameter type that derives
//! [`garde::Validate`] is checked after it is read and before the handler runs. A failure is
//! 422 `FAILED_VALIDATION` listing every failing field at once
//! ([`EndpointError::failed_validation`]), each with its path (`items[2].email`), garde's rule
//! name as its code (`length`, `range`, `email`, `pattern`, …) and garde's message.
//!
//! ```
//! use endpoint_runtime::prelude::*;
//!
//! #[derive(serde::Deserialize, garde::Validate)]
//! struct NewTodo {
//!     #[garde(length(chars, min = 1, max = 200))]
//!     title: String,
//!     #[garde(range(min = 1, max = 5))]
//!     priority: u8,
//! }
//!
//! /// Add a todo: a blank title or a priority of 9 is 422 before this runs.
//! #[endpoint(id = "todos", route = "/", method = post)]
//! async fn add(Json(todo): Json<NewTodo>) -> JSend<String> {
//!     JSend(todo.title)
//! }
//! # fn main() {}
//! ```
//!
//! - The application depends on `garde` itself (its derive names `::garde`), with the
//!   features of the rules it uses (`derive`, `regex` for `pattern`, `email`, `url`).
//! - The application's garde is the runtime's line, 0.23: another version's derive implements
//!   another trait, which the runtime does not see. Only the runtime's own [`Json`] and
//!   [`Query`] (and path parameters) are checked, not axum's extractors of the same names.
//! - Nested types are checked with `#[garde(dive)]`, as garde does. Paths use the Rust field
//!   names (garde does not read `#[serde(rename)]`); a newtype path parameter reports its
//!   name alone with `#[garde(transparent)]`.
//! - Each input is checked as soon as it is extracted, in argument order: write
//!   `Accountability` (or rely on `access`, which runs before any) first when a 401 should
//!   win over a 422.
//! - The same attributes reach the OpenAPI schema: `schemars` reads `#[garde(...)]`
//!   (`length` as `minLength`/`maxLength` or `minItems`/`maxItems`, `range` as
//!   `minimum`/`maximum`, `pattern`, `email`/`url` as `format`). JSON Schema counts a string's
//!   length in characters: write `length(chars, ...)` (garde's default counts bytes) so that the
//!   document and the check agree.
//! - A path parameter is checked when its type implements `Validate`: [`Range`] for a bounded
//!   integer (`id: Range<1, 1000>`), or a newtype of one's own.
//! - A type whose garde `Context` has no `Default` cannot be checked by the runtime (it has no
//!   context to give): such an endpoint fails to build (`cargo build`, `cargo test`; a
//!   post-monomorphization error, which `cargo check` does not report), with a message saying
//!   so, rather than run unchecked.
//!
//! Without the `validate` feature nothing is checked, and [`Range`] does not exist.

use std::borrow::Cow;
use std::fmt::{self, Display};
use std::str::FromStr;

use garde::i18n::{
    DefaultI18n, I18n, InvalidCreditCard, InvalidEmail, InvalidPhoneNumber, InvalidUrl, IpKind,
};

use crate::error::{EndpointError, FieldError, FieldLocation};
#[cfg(doc)]
use crate::extract::{Json, Query};

/// Separates the rule code from garde's message in the text [`Coded`] gives.
const SEPARATOR: char = '\u{1f}';

/// garde's English messages (its [`DefaultI18n`]), each prefixed with the rule's name: garde's
/// `Error` carries only a message, and its i18n hook is the one place that knows the rule.
struct Coded;

fn coded(code: &str, message: Cow<'static, str>) -> Cow<'static, str> {
    Cow::Owned(format!("{code}{SEPARATOR}{message}"))
}

/// `Coded`'s `I18n`: each method gives garde's message with its rule's name.
macro_rules! coded_messages {
    ($($method:ident($($arg:ident: $ty:ty),*) => $code:literal;)*) => {
        impl I18n for Coded {
            $(fn $method(&self, $($arg: $ty),*) -> Cow<'static, str> {
                coded($code, DefaultI18n.$method($($arg),*))
            })*
        }
    };
}

coded_messages! {
    length_lower_than(min: usize) => "length";
    length_greater_than(max: usize) => "length";
    range_lower_than(min: &dyn Display) => "range";
    range_greater_than(max: &dyn Display) => "range";
    credit_card_invalid(reason: InvalidCreditCard) => "credit_card";
    pattern_no_match(pattern: &dyn Display) => "pattern";
    contains_missing(pattern: &dyn Display) => "contains";
    url_invalid(reason: InvalidUrl) => "url";
    prefix_missing(pattern: &dyn Display) => "prefix";
    suffix_missing(pattern: &dyn Display) => "suffix";
    phone_number_invalid(reason: InvalidPhoneNumber) => "phone_number";
    ip_invalid(kind: IpKind) => "ip";
    matches_field_mismatch(field: &dyn Display) => "matches";
    email_invalid(reason: InvalidEmail) => "email";
    ascii_invalid() => "ascii";
    alphanumeric_invalid() => "alphanumeric";
    required_not_set() => "required";
}

/// Checks `value` as the runtime checks an endpoint's input: `Err` is 422
/// `FAILED_VALIDATION` with every failing field, read from `location`, its path prefixed with
/// `prefix` (a path parameter's name; `""` for a body or a query).
///
/// # Errors
///
/// [`EndpointError::failed_validation`] when a rule fails.
pub fn check<T>(value: &T, location: FieldLocation, prefix: &str) -> Result<(), EndpointError>
where
    T: garde::Validate + ?Sized,
    T::Context: Default,
{
    let report = match garde::with_i18n(Coded, || value.validate()) {
        Ok(()) => return Ok(()),
        Err(report) => report,
    };
    let errors = report
        .iter()
        .map(|(path, error)| {
            let (code, message) = match error.message().split_once(SEPARATOR) {
                Some((code, message)) => (Cow::Owned(code.to_string()), message.to_string()),
                // `#[garde(custom(...))]` and hand-made errors carry no rule name.
                None => (Cow::Borrowed("custom"), error.message().to_string()),
            };
            let path = path.to_string();
            let path = match (prefix, path.as_str()) {
                (prefix, "") => prefix.to_string(),
                ("", path) => path.to_string(),
                (prefix, path) if path.starts_with('[') => format!("{prefix}{path}"),
                (prefix, path) => format!("{prefix}.{path}"),
            };
            FieldError::new(location, path, code, message)
        })
        .collect();
    Err(EndpointError::failed_validation(errors))
}

/// An integer path parameter between `MIN` and `MAX`, inclusive: `id: Range<1, 1000>`.
///
/// A segment that is not an integer is 400 `INVALID_PATH_PARAMETER`, as for any path
/// parameter; an integer outside the range is 422 `FAILED_VALIDATION` with the code `range`.
/// The OpenAPI document gives the parameter `minimum` and `maximum`. Read the value with
/// [`get`](Self::get) or `*id`.
///
/// ```
/// use endpoint_runtime::prelude::*;
/// use endpoint_runtime::validation::Range;
///
/// /// One page of at most 50.
/// #[endpoint(id = "pages", route = "/{page}", method = get)]
/// async fn page(page: Range<1, 50>) -> String {
///     format!("page {}", page.get())
/// }
/// # fn main() {}
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Range<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Range<MIN, MAX> {
    /// The value, when it is in the range.
    pub fn new(value: i64) -> Option<Self> {
        (MIN..=MAX).contains(&value).then_some(Range(value))
    }

    /// The value.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<const MIN: i64, const MAX: i64> std::ops::Deref for Range<MIN, MAX> {
    type Target = i64;
    fn deref(&self) -> &i64 {
        &self.0
    }
}

impl<const MIN: i64, const MAX: i64> Display for Range<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses any integer: the range is checked by [`Validate`](garde::Validate), so that an
/// integer out of range is a 422 naming the rule, not a 400 as for a segment that is no integer
/// (one past `i64` is taken as `i64::MAX` or `i64::MIN`, outside any range that ends before).
impl<const MIN: i64, const MAX: i64> FromStr for Range<MIN, MAX> {
    type Err = std::num::ParseIntError;
    fn from_str(segment: &str) -> Result<Self, Self::Err> {
        use std::num::IntErrorKind;
        match segment.parse::<i64>() {
            Ok(value) => Ok(Range(value)),
            Err(error) if *error.kind() == IntErrorKind::PosOverflow => Ok(Range(i64::MAX)),
            Err(error) if *error.kind() == IntErrorKind::NegOverflow => Ok(Range(i64::MIN)),
            Err(error) => Err(error),
        }
    }
}

impl<const MIN: i64, const MAX: i64> garde::Validate for Range<MIN, MAX> {
    type Context = ();
    fn validate_into(
        &self,
        _: &(),
        parent: &mut dyn FnMut() -> garde::Path,
        report: &mut garde::Report,
    ) {
        if let Err(error) = garde::rules::range::apply(&self.0, (Some(MIN), Some(MAX))) {
            report.append(parent(), error);
        }
    }
}

#[cfg(feature = "openapi")]
impl<const MIN: i64, const MAX: i64> schemars::JsonSchema for Range<MIN, MAX> {
    fn schema_name() -> Cow<'static, str> {
        Cow::Owned(format!("Range_{MIN}_{MAX}"))
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "integer", "format": "int64", "minimum": MIN, "maximum": MAX })
    }
}

/// The autoref-specialization traits generated code calls after each extractor and path
/// parameter: a type that implements `Validate` (with a default context) is checked, any other
/// passes through. Not public API.
#[doc(hidden)]
pub mod traits {
    use super::*;
    pub use crate::extract::unchecked::{ExtractorUnchecked, ParamUnchecked};
    use crate::extract::{Json, Probe, Query};

    /// `Json<T>` / `Query<T>` with `T: Validate`: checked.
    pub trait ExtractorChecked {
        type Value;
        fn __endpoint_validate(&self, value: &Self::Value) -> Result<(), EndpointError>;
        /// Whether the input is checked (the document lists the 422).
        fn __endpoint_checks(&self) -> bool {
            true
        }
    }
    impl<T: garde::Validate> ExtractorChecked for &&Probe<Json<T>>
    where
        T::Context: Default,
    {
        type Value = Json<T>;
        fn __endpoint_validate(&self, value: &Json<T>) -> Result<(), EndpointError> {
            check(&value.0, FieldLocation::Body, "")
        }
    }
    impl<T: garde::Validate> ExtractorChecked for &&Probe<Query<T>>
    where
        T::Context: Default,
    {
        type Value = Query<T>;
        fn __endpoint_validate(&self, value: &Query<T>) -> Result<(), EndpointError> {
            check(&value.0, FieldLocation::Query, "")
        }
    }

    /// `Validate` without a default context: refused when the endpoint is built.
    pub trait ExtractorUncheckable {
        type Value;
        fn __endpoint_validate(&self, value: &Self::Value) -> Result<(), EndpointError>;
        fn __endpoint_checks(&self) -> bool {
            true
        }
    }
    impl<T: garde::Validate> ExtractorUncheckable for &Probe<Json<T>> {
        type Value = Json<T>;
        fn __endpoint_validate(&self, _: &Json<T>) -> Result<(), EndpointError> {
            NoDefaultContext::<T>::REFUSE
        }
    }
    impl<T: garde::Validate> ExtractorUncheckable for &Probe<Query<T>> {
        type Value = Query<T>;
        fn __endpoint_validate(&self, _: &Query<T>) -> Result<(), EndpointError> {
            NoDefaultContext::<T>::REFUSE
        }
    }

    /// A path parameter whose type implements `Validate`: checked.
    pub trait ParamChecked {
        type Value;
        fn __endpoint_validate_param(
            &self,
            value: &Self::Value,
            name: &str,
        ) -> Result<(), EndpointError>;
        /// Whether the parameter is checked (the document lists the 422).
        fn __endpoint_checks_param(&self) -> bool {
            true
        }
    }
    impl<T: garde::Validate> ParamChecked for &&Probe<T>
    where
        T::Context: Default,
    {
        type Value = T;
        fn __endpoint_validate_param(&self, value: &T, name: &str) -> Result<(), EndpointError> {
            check(value, FieldLocation::Path, name)
        }
    }
    /// `Validate` without a default context: refused when the endpoint is built.
    pub trait ParamUncheckable {
        type Value;
        fn __endpoint_validate_param(
            &self,
            value: &Self::Value,
            name: &str,
        ) -> Result<(), EndpointError>;
        fn __endpoint_checks_param(&self) -> bool {
            true
        }
    }
    impl<T: garde::Validate> ParamUncheckable for &Probe<T> {
        type Value = T;
        fn __endpoint_validate_param(&self, _: &T, _: &str) -> Result<(), EndpointError> {
            NoDefaultContext::<T>::REFUSE
        }
    }
    /// A constant whose evaluation fails the build (it is evaluated where an endpoint uses
    /// such a type).
    ///
    /// Its value depends on `T` (through `size_of`), so that it is evaluated only for a type an
    /// endpoint uses: a constant that does not mention `T` is evaluated once for the generic
    /// code by an optimized build, which then fails the runtime itself.
    struct NoDefaultContext<T>(std::marker::PhantomData<T>);
    impl<T> NoDefaultContext<T> {
        const REFUSE: Result<(), EndpointError> = if std::mem::size_of::<T>() < usize::MAX {
            panic!(
                "an endpoint's input derives `garde::Validate` with a `context` that has no `Default`: \
                 the runtime cannot check it. Give the context a `Default`, or take the input \
                 unchecked (a type without `Validate`) and call `validate_with` in the handler"
            )
        } else {
            Ok(())
        };
    }
}
