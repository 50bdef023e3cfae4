async fn put_file(
    id: u64,
    who: Accountability,
    path: String,
    body: Json<Value>,
) -> Result<String, EndpointError> {
    Ok(path)
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
            let __param0 = match __raw.parse::<u64>("id", "u64") {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(error) => {
                    return ::endpoint_runtime::__private::IntoResponse::into_response(
                        error,
                    );
                }
            };
            if let ::core::result::Result::Err(error) = (&&&::endpoint_runtime::__private::validate::Probe::<
                u64,
            >::new())
                .__endpoint_validate_param(&__param0, "id")
            {
                return ::endpoint_runtime::__private::IntoResponse::into_response(error);
            }
            let __param1 = match __raw.parse::<String>("path", "String") {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(error) => {
                    return ::endpoint_runtime::__private::IntoResponse::into_response(
                        error,
                    );
                }
            };
            if let ::core::result::Result::Err(error) = (&&&::endpoint_runtime::__private::validate::Probe::<
                String,
            >::new())
                .__endpoint_validate_param(&__param1, "path")
            {
                return ::endpoint_runtime::__private::IntoResponse::into_response(error);
            }
            let __arg1 = match <Accountability as ::endpoint_runtime::__private::FromRequestParts<
                (),
            >>::from_request_parts(&mut __parts, &())
                .await
            {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(rejection) => {
                    return ::endpoint_runtime::__private::reject(
                            ::endpoint_runtime::__private::IntoResponse::into_response(
                                rejection,
                            ),
                        )
                        .await;
                }
            };
            if let ::core::result::Result::Err(error) = (&&&::endpoint_runtime::__private::validate::Probe::<
                Accountability,
            >::new())
                .__endpoint_validate(&__arg1)
            {
                return ::endpoint_runtime::__private::reject(
                        ::endpoint_runtime::__private::IntoResponse::into_response(error),
                    )
                    .await;
            }
            let __arg3 = match <Json<
                Value,
            > as ::endpoint_runtime::__private::FromRequest<
                (),
                _,
            >>::from_request(
                    ::endpoint_runtime::__private::Request::from_parts(__parts, __body),
                    &(),
                )
                .await
            {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(rejection) => {
                    return ::endpoint_runtime::__private::reject(
                            ::endpoint_runtime::__private::IntoResponse::into_response(
                                rejection,
                            ),
                        )
                        .await;
                }
            };
            if let ::core::result::Result::Err(error) = (&&&::endpoint_runtime::__private::validate::Probe::<
                Json<Value>,
            >::new())
                .__endpoint_validate(&__arg3)
            {
                return ::endpoint_runtime::__private::reject(
                        ::endpoint_runtime::__private::IntoResponse::into_response(error),
                    )
                    .await;
            }
            ::endpoint_runtime::__private::respond::<
                Result<String, EndpointError>,
            >(put_file(__param0, __arg1, __param1, __arg3).await)
        })
    }
    ::endpoint_runtime::__private::document! {
        fn __endpoint_doc(doc : & mut ::endpoint_runtime::__private::doc::OperationDoc <
        '_ >) { #[allow(unused_imports)] use ::endpoint_runtime::__private::doc::traits::
        *; #[allow(unused_imports)] use ::endpoint_runtime::__private::validate::traits::
        *; (&& & ::endpoint_runtime::__private::doc::Probe:: < u64 > ::new())
        .__endpoint_param_doc(doc, "id", "u64"); if (&& &
        ::endpoint_runtime::__private::validate::Probe:: < u64 > ::new())
        .__endpoint_checks_param() { doc.validated(); } (&& &
        ::endpoint_runtime::__private::doc::Probe:: < String > ::new())
        .__endpoint_param_doc(doc, "path", "String"); if (&& &
        ::endpoint_runtime::__private::validate::Probe:: < String > ::new())
        .__endpoint_checks_param() { doc.validated(); } (&& &&
        ::endpoint_runtime::__private::doc::Probe:: < Accountability > ::new())
        .__endpoint_extractor_doc(doc, "Accountability"); if (&& &
        ::endpoint_runtime::__private::validate::Probe:: < Accountability > ::new())
        .__endpoint_checks() { doc.validated(); } (&& &&
        ::endpoint_runtime::__private::doc::Probe:: < Json < Value > > ::new())
        .__endpoint_extractor_doc(doc, "Json<Value>"); if (&& &
        ::endpoint_runtime::__private::validate::Probe:: < Json < Value > > ::new())
        .__endpoint_checks() { doc.validated(); } (&& &
        ::endpoint_runtime::__private::doc::Probe:: < Result < String, EndpointError > >
        ::new()).__endpoint_response_doc(doc, "Result<String, EndpointError>"); }
        ::endpoint_runtime::__private::inventory::submit! {
        ::endpoint_runtime::__private::doc::Documented { site :
        ::endpoint_runtime::__private::Site { file : ::core::file!(), line :
        ::core::line!(), handler : ::core::stringify!(put_file), }, document :
        __endpoint_doc, } }
    }
    ::endpoint_runtime::__private::inventory::submit! {
        ::endpoint_runtime::__private::Endpoint::__new(::endpoint_runtime::__private::EndpointSpec
        { id : "users", route : "/{id}/files/{*path}", methods :
        ::endpoint_runtime::__private::Methods::List(&
        [::endpoint_runtime::__private::Method::Put,
        ::endpoint_runtime::__private::Method::Patch]), access :
        ::core::option::Option::Some(::endpoint_runtime::__private::Access::Roles(&
        ["editor"])), handler : ::core::stringify!(put_file), module_path :
        ::core::module_path!(), file : ::core::file!(), line : ::core::line!(), docs :
        "", params : & [::endpoint_runtime::__private::Param { name : "id", ty : "u64",
        catch_all : false }, ::endpoint_runtime::__private::Param { name : "path", ty :
        "String", catch_all : true }], call : __endpoint_handler, prerender : false,
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
///Typed calls of the endpoint [`put_file`](fn@put_file): `put_file::request(...)` (see the `client` module of the runtime).
#[allow(non_camel_case_types, dead_code)]
#[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
struct put_file {}
impl put_file {
    ///A request to [`put_file`](fn@put_file), typed by what it returns: its route parameters, then its query and its JSON body if it reads them.
    #[allow(dead_code, clippy::too_many_arguments, clippy::needless_pass_by_value)]
    fn request(
        id: u64,
        path: String,
        body: Value,
    ) -> ::endpoint_runtime::__private::client::Call<Result<String, EndpointError>> {
        #[allow(unused_imports)]
        use ::endpoint_runtime::__private::client::traits::{
            Segment as _, Serialized as _, Unwritable as _,
        };
        ::endpoint_runtime::__private::client::Call::<
            Result<String, EndpointError>,
        >::new(
                ::endpoint_runtime::__private::client::Method::PUT,
                "users",
                "/{id}/files/{*path}",
            )
            .param(
                "id",
                (&&&::endpoint_runtime::__private::client::traits::Value(&id))
                    .__endpoint_segment(),
            )
            .param(
                "path",
                (&&&::endpoint_runtime::__private::client::traits::Value(&path))
                    .__endpoint_segment(),
            )
            .json_body(
                (&&&::endpoint_runtime::__private::client::traits::Value(&body))
                    .__endpoint_body(),
            )
    }
}
