/// Say hello.
async fn intro() -> &'static str {
    "Nice to meet you."
}
#[doc(hidden)]
#[allow(
    non_camel_case_types,
    non_snake_case,
    unused_mut,
    unused_qualifications,
    clippy::all,
    clippy::pedantic
)]
const _: () = {
    fn __endpoint_handler(
        __request: ::endpoint_runtime::__private::Request,
    ) -> ::endpoint_runtime::__private::HandlerFuture {
        ::std::boxed::Box::pin(async move {
            #[allow(unused_imports)]
            use ::endpoint_runtime::__private::validate::traits::*;
            let (mut __parts, __body) = __request.into_parts();
            let _ = (__parts, __body);
            ::endpoint_runtime::__private::respond::<&'static str>(intro().await)
        })
    }
    ::endpoint_runtime::__private::document! {
        fn __endpoint_doc(doc : & mut ::endpoint_runtime::__private::doc::OperationDoc <
        '_ >) { #[allow(unused_imports)] use ::endpoint_runtime::__private::doc::traits::
        *; #[allow(unused_imports)] use ::endpoint_runtime::__private::validate::traits::
        *; (&& & ::endpoint_runtime::__private::doc::Probe:: < & 'static str > ::new())
        .__endpoint_response_doc(doc, "&'static str"); }
        ::endpoint_runtime::__private::inventory::submit! {
        ::endpoint_runtime::__private::doc::Documented { site :
        ::endpoint_runtime::__private::Site { file : ::core::file!(), line :
        ::core::line!(), handler : ::core::stringify!(intro), }, document :
        __endpoint_doc, } }
    }
    ::endpoint_runtime::__private::inventory::submit! {
        ::endpoint_runtime::__private::Endpoint::__new(::endpoint_runtime::__private::EndpointSpec
        { id : "greet", route : "/intro", methods :
        ::endpoint_runtime::__private::Methods::List(&
        [::endpoint_runtime::__private::Method::Get]), access :
        ::core::option::Option::None, handler : ::core::stringify!(intro), module_path :
        ::core::module_path!(), file : ::core::file!(), line : ::core::line!(), docs :
        "Say hello.", params : & [], call : __endpoint_handler, prerender : false,
        static_paths : ::core::option::Option::None, confined :
        ::core::option::Option::None, policy : ::endpoint_runtime::__private::Policy {
        timeout : ::core::option::Option::None, body_limit :
        ::core::option::Option::None, concurrency : ::core::option::Option::None,
        rate_limit : ::core::option::Option::None, idempotent : false, }, lifecycle :
        ::endpoint_runtime::__private::Lifecycle { since : ::core::option::Option::None,
        until : ::core::option::Option::None, deprecated : ::core::option::Option::None,
        sunset : ::core::option::Option::None, }, })
    }
};
///Typed calls of the endpoint [`intro`](fn@intro): `intro::request(...)` (see the `client` module of the runtime).
#[allow(non_camel_case_types, dead_code)]
#[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
struct intro {}
impl intro {
    ///A request to [`intro`](fn@intro), typed by what it returns: its route parameters, then its query and its JSON body if it reads them.
    #[allow(dead_code, clippy::too_many_arguments, clippy::needless_pass_by_value)]
    fn request() -> ::endpoint_runtime::__private::client::Call<&'static str> {
        #[allow(unused_imports)]
        use ::endpoint_runtime::__private::client::traits::{
            Segment as _, Serialized as _, Unwritable as _,
        };
        ::endpoint_runtime::__private::client::Call::<
            &'static str,
        >::new(::endpoint_runtime::__private::client::Method::GET, "greet", "/intro")
    }
}
