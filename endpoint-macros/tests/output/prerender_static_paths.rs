async fn user(id: u32) -> String {
    id.to_string()
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
            let __raw = match ::endpoint_runtime::__private::RawParams::from_parts(
                    &mut __parts,
                )
                .await
            {
                ::core::result::Result::Ok(raw) => raw,
                ::core::result::Result::Err(error) => {
                    return ::endpoint_runtime::__private::IntoResponse::into_response(
                        error,
                    );
                }
            };
            let __param0 = match __raw.parse::<u32>("id", "u32") {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(error) => {
                    return ::endpoint_runtime::__private::IntoResponse::into_response(
                        error,
                    );
                }
            };
            if let ::core::result::Result::Err(error) = (&&&::endpoint_runtime::__private::validate::Probe::<
                u32,
            >::new())
                .__endpoint_validate_param(&__param0, "id")
            {
                return ::endpoint_runtime::__private::IntoResponse::into_response(error);
            }
            let _ = (__parts, __body);
            ::endpoint_runtime::__private::respond::<String>(user(__param0).await)
        })
    }
    ::endpoint_runtime::__private::document! {
        fn __endpoint_doc(doc : & mut ::endpoint_runtime::__private::doc::OperationDoc <
        '_ >) { #[allow(unused_imports)] use ::endpoint_runtime::__private::doc::traits::
        *; #[allow(unused_imports)] use ::endpoint_runtime::__private::validate::traits::
        *; (&& & ::endpoint_runtime::__private::doc::Probe:: < u32 > ::new())
        .__endpoint_param_doc(doc, "id", "u32"); if (&& &
        ::endpoint_runtime::__private::validate::Probe:: < u32 > ::new())
        .__endpoint_checks_param() { doc.validated(); } (&& &
        ::endpoint_runtime::__private::doc::Probe:: < String > ::new())
        .__endpoint_response_doc(doc, "String"); }
        ::endpoint_runtime::__private::inventory::submit! {
        ::endpoint_runtime::__private::doc::Documented { site :
        ::endpoint_runtime::__private::Site { file : ::core::file!(), line :
        ::core::line!(), handler : ::core::stringify!(user), }, document :
        __endpoint_doc, } }
    }
    ::endpoint_runtime::__private::prerender_endpoint! {
        fn __endpoint_static_paths() -> ::endpoint_runtime::__private::StaticPathsFuture
        { ::std::boxed::Box::pin(async move { #[allow(unused_imports)] use
        ::endpoint_runtime::__private::prerender::traits:: *; let __items = (&&
        ::endpoint_runtime::__private::prerender::StaticPaths(user_ids))
        .__endpoint_static_paths(). await; let mut __out = ::std::vec::Vec::new(); for
        __item in __items { __out.push(::std::vec![("id", { let __value : u32 = __item
        .id; ::endpoint_runtime::__private::prerender::param_text(& __value) })]); }
        __out }) }
    }
    ::endpoint_runtime::__private::inventory::submit! {
        ::endpoint_runtime::__private::Endpoint::__new(::endpoint_runtime::__private::EndpointSpec
        { id : "api", route : "/users/{id}", methods :
        ::endpoint_runtime::__private::Methods::List(&
        [::endpoint_runtime::__private::Method::Get]), access :
        ::core::option::Option::Some(::endpoint_runtime::__private::Access::Public),
        handler : ::core::stringify!(user), module_path : ::core::module_path!(), file :
        ::core::file!(), line : ::core::line!(), docs : "", params : &
        [::endpoint_runtime::__private::Param { name : "id", ty : "u32", catch_all :
        false }], call : __endpoint_handler, prerender : true, static_paths :
        ::core::option::Option::Some(__endpoint_static_paths), confined :
        ::core::option::Option::None, policy : ::endpoint_runtime::__private::Policy {
        timeout : ::core::option::Option::None, body_limit :
        ::core::option::Option::None, concurrency : ::core::option::Option::None,
        rate_limit : ::core::option::Option::None, idempotent : false, }, lifecycle :
        ::endpoint_runtime::__private::Lifecycle { since : ::core::option::Option::None,
        until : ::core::option::Option::None, deprecated : ::core::option::Option::None,
        sunset : ::core::option::Option::None, }, })
    }
};
///Typed calls of the endpoint [`user`](fn@user): `user::request(...)` (see the `client` module of the runtime).
#[allow(non_camel_case_types, dead_code)]
#[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
struct user {}
impl user {
    ///A request to [`user`](fn@user), typed by what it returns: its route parameters, then its query and its JSON body if it reads them.
    #[allow(dead_code, clippy::too_many_arguments, clippy::needless_pass_by_value)]
    fn request(id: u32) -> ::endpoint_runtime::__private::client::Call<String> {
        #[allow(unused_imports)]
        use ::endpoint_runtime::__private::client::traits::{
            Segment as _, Serialized as _, Unwritable as _,
        };
        ::endpoint_runtime::__private::client::Call::<
            String,
        >::new(::endpoint_runtime::__private::client::Method::GET, "api", "/users/{id}")
            .param(
                "id",
                (&&&::endpoint_runtime::__private::client::traits::Value(&id))
                    .__endpoint_segment(),
            )
    }
}
