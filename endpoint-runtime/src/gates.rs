//! What `#[endpoint]` expands to when a feature it needs is off: an error naming the feature,
//! and stand-ins for the items the rest of the expansion names, so that the error is the only
//! one. Each macro's expansion with the feature on is defined beside the feature's code. Not
//! public API: generated code reaches them through `__private`.

/// `#[endpoint(confined)]` without the `confined` feature.
#[cfg(not(feature = "confined"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __endpoint_confined {
    ($($item:tt)*) => {
        ::core::compile_error!(
            "`#[endpoint(confined)]` needs the `confined` feature of endpoint-runtime: \
             endpoint-runtime = { features = [\"confined\"] }"
        );
        fn __endpoint_handler(_: $crate::__private::Request) -> $crate::__private::HandlerFuture {
            ::core::unreachable!()
        }
    };
}

/// `#[endpoint(prerender)]` without the `prerender` feature.
#[cfg(not(feature = "prerender"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __endpoint_prerender {
    () => {
        ::core::compile_error!(
            "`#[endpoint(prerender)]` needs the `prerender` feature of endpoint-runtime: \
             endpoint-runtime = { features = [\"prerender\"] }"
        );
    };
    ($($item:tt)+) => {
        $crate::__endpoint_prerender!();
        fn __endpoint_static_paths() -> $crate::__private::StaticPathsFuture {
            ::core::unreachable!()
        }
    };
}

/// An endpoint's OpenAPI description without the `openapi` feature: nothing.
#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __endpoint_document {
    ($($item:tt)*) => {};
}

/// Expands to the items it is given: a gate whose feature is on.
#[doc(hidden)]
#[macro_export]
macro_rules! __endpoint_items {
    ($($item:tt)*) => { $($item)* };
}
