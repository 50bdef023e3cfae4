async fn any_method() {}
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
        __request: ::my_runtime::__private::Request,
    ) -> ::my_runtime::__private::HandlerFuture {
        ::std::boxed::Box::pin(async move {
            #[allow(unused_imports)]
            use ::my_runtime::__private::validate::traits::*;
            let (mut __parts, __body) = __request.into_parts();
            let _ = (__parts, __body);
            ::my_runtime::__private::IntoResponse::into_response(any_method().await)
        })
    }
    ::my_runtime::__private::document! {
        fn __endpoint_doc(doc : & mut ::my_runtime::__private::doc::OperationDoc < '_ >)
        { #[allow(unused_imports)] use ::my_runtime::__private::doc::traits:: *;
        #[allow(unused_imports)] use ::my_runtime::__private::validate::traits:: *; (&& &
        ::my_runtime::__private::doc::Probe:: < () > ::new())
        .__endpoint_response_doc(doc, "()"); }
        ::my_runtime::__private::inventory::submit! {
        ::my_runtime::__private::doc::Documented { site : ::my_runtime::__private::Site {
        file : ::core::file!(), line : ::core::line!(), handler :
        ::core::stringify!(any_method), }, document : __endpoint_doc, } }
    }
    ::my_runtime::__private::inventory::submit! {
        ::my_runtime::__private::Endpoint::__new(::my_runtime::__private::EndpointSpec {
        id : "", route : "/methods.json", methods :
        ::my_runtime::__private::Methods::All, access : ::core::option::Option::None,
        handler : ::core::stringify!(any_method), module_path : ::core::module_path!(),
        file : ::core::file!(), line : ::core::line!(), docs : "", params : & [], call :
        __endpoint_handler, prerender : false, static_paths :
        ::core::option::Option::None, confined : ::core::option::Option::None, policy :
        ::my_runtime::__private::Policy { timeout : ::core::option::Option::None,
        body_limit : ::core::option::Option::None, concurrency :
        ::core::option::Option::None, rate_limit : ::core::option::Option::None,
        idempotent : false, }, lifecycle : ::my_runtime::__private::Lifecycle { since :
        ::core::option::Option::None, until : ::core::option::Option::None, deprecated :
        ::core::option::Option::None, sunset : ::core::option::Option::None, }, })
    }
};
///Typed calls of the endpoint [`any_method`](fn@any_method): `any_method::request(...)` (see the `client` module of the runtime).
#[allow(non_camel_case_types, dead_code)]
#[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
struct any_method {}
impl any_method {
    ///A request to [`any_method`](fn@any_method), typed by what it returns: its route parameters, then its query and its JSON body if it reads them.
    #[allow(dead_code, clippy::too_many_arguments, clippy::needless_pass_by_value)]
    fn request() -> ::my_runtime::__private::client::Call<()> {
        #[allow(unused_imports)]
        use ::my_runtime::__private::client::traits::{
            Segment as _, Serialized as _, Unwritable as _,
        };
        ::my_runtime::__private::client::Call::<
            (),
        >::new(::my_runtime::__private::client::Method::GET, "", "/methods.json")
    }
}
