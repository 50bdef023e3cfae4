#[forbid(unsafe_code)]
fn greet(request: ConfinedRequest, host: &mut Host) -> Result<Reply, ConfinedError> {
    Ok(Reply::ok(json!({})))
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
    ::endpoint_runtime::__private::confined_endpoint! {
        static __CONFINED : ::endpoint_runtime::__private::confined::ConfinedSpec =
        ::endpoint_runtime::__private::confined::ConfinedSpec { confinement :
        ::endpoint_runtime::__private::Confinement { key :
        ::core::concat!(::core::module_path!(), "::", ::core::stringify!(greet)), log :
        true, origins : & ["https://api.example.com"], }, run : greet, };
        ::endpoint_runtime::__private::inventory::submit! {
        ::endpoint_runtime::__private::confined::Registered(& __CONFINED) } fn
        __endpoint_handler(__request : ::endpoint_runtime::__private::Request) ->
        ::endpoint_runtime::__private::HandlerFuture {
        ::std::boxed::Box::pin(::endpoint_runtime::__private::confined::handle(&
        __CONFINED, __request)) }
    }
    ::endpoint_runtime::__private::document! {
        fn __endpoint_doc(doc : & mut ::endpoint_runtime::__private::doc::OperationDoc <
        '_ >) { #[allow(unused_imports)] use ::endpoint_runtime::__private::doc::traits::
        *; #[allow(unused_imports)] use ::endpoint_runtime::__private::validate::traits::
        *; doc.confined(); } ::endpoint_runtime::__private::inventory::submit! {
        ::endpoint_runtime::__private::doc::Documented { site :
        ::endpoint_runtime::__private::Site { file : ::core::file!(), line :
        ::core::line!(), handler : ::core::stringify!(greet), }, document :
        __endpoint_doc, } }
    }
    ::endpoint_runtime::__private::inventory::submit! {
        ::endpoint_runtime::__private::Endpoint::__new(::endpoint_runtime::__private::EndpointSpec
        { id : "sandbox", route : "/greet/{name}", methods :
        ::endpoint_runtime::__private::Methods::List(&
        [::endpoint_runtime::__private::Method::Get]), access :
        ::core::option::Option::None, handler : ::core::stringify!(greet), module_path :
        ::core::module_path!(), file : ::core::file!(), line : ::core::line!(), docs :
        "", params : & [::endpoint_runtime::__private::Param { name : "name", ty :
        "String", catch_all : false }], call : __endpoint_handler, prerender : false,
        static_paths : ::core::option::Option::None, confined :
        ::core::option::Option::Some(& ::endpoint_runtime::__private::Confinement { key :
        ::core::concat!(::core::module_path!(), "::", ::core::stringify!(greet)), log :
        true, origins : & ["https://api.example.com"], }), policy :
        ::endpoint_runtime::__private::Policy { timeout : ::core::option::Option::None,
        body_limit : ::core::option::Option::None, concurrency :
        ::core::option::Option::None, rate_limit : ::core::option::Option::None,
        idempotent : false, }, lifecycle : ::endpoint_runtime::__private::Lifecycle {
        since : ::core::option::Option::None, until : ::core::option::Option::None,
        deprecated : ::core::option::Option::None, sunset : ::core::option::Option::None,
        }, })
    }
};
