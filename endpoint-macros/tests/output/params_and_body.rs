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
    struct __EndpointParams(u64, String);
    impl ::endpoint_runtime::__private::FromRequestParts<()> for __EndpointParams {
        type Rejection = ::endpoint_runtime::EndpointError;
        async fn from_request_parts(
            parts: &mut ::endpoint_runtime::__private::Parts,
            _: &(),
        ) -> ::core::result::Result<Self, Self::Rejection> {
            let raw = ::endpoint_runtime::__private::RawParams::from_parts(parts).await?;
            ::core::result::Result::Ok(
                Self(
                    raw.parse::<u64>("id", "u64")?,
                    raw.parse::<String>("path", "String")?,
                ),
            )
        }
    }
    async fn __endpoint_handler(
        __request: ::endpoint_runtime::__private::Request,
    ) -> ::endpoint_runtime::__private::Response {
        let (mut __parts, __body) = __request.into_parts();
        let __EndpointParams(__param0, __param1) = match <__EndpointParams as ::endpoint_runtime::__private::FromRequestParts<
            (),
        >>::from_request_parts(&mut __parts, &())
            .await
        {
            ::core::result::Result::Ok(params) => params,
            ::core::result::Result::Err(rejection) => {
                return ::endpoint_runtime::__private::IntoResponse::into_response(
                    rejection,
                );
            }
        };
        let __arg1 = match <Accountability as ::endpoint_runtime::__private::FromRequestParts<
            (),
        >>::from_request_parts(&mut __parts, &())
            .await
        {
            ::core::result::Result::Ok(value) => value,
            ::core::result::Result::Err(rejection) => {
                return ::endpoint_runtime::__private::reject(rejection).await;
            }
        };
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
                return ::endpoint_runtime::__private::reject(rejection).await;
            }
        };
        ::endpoint_runtime::__private::respond::<
            Result<String, EndpointError>,
        >(put_file(__param0, __arg1, __param1, __arg3).await)
    }
    fn __endpoint_doc(doc: &mut ::endpoint_runtime::__private::doc::OperationDoc<'_>) {
        #[allow(unused_imports)]
        use ::endpoint_runtime::__private::doc::traits::*;
        (&&&::endpoint_runtime::__private::doc::Probe::<u64>::new())
            .__endpoint_param_doc(doc, "id", "u64");
        (&&&::endpoint_runtime::__private::doc::Probe::<String>::new())
            .__endpoint_param_doc(doc, "path", "String");
        (&&&&::endpoint_runtime::__private::doc::Probe::<Accountability>::new())
            .__endpoint_extractor_doc(doc, "Accountability");
        (&&&&::endpoint_runtime::__private::doc::Probe::<Json<Value>>::new())
            .__endpoint_extractor_doc(doc, "Json<Value>");
        (&&&::endpoint_runtime::__private::doc::Probe::<
            Result<String, EndpointError>,
        >::new())
            .__endpoint_response_doc(doc, "Result<String, EndpointError>");
    }
    fn __endpoint_route(
        endpoint: &'static ::endpoint_runtime::__private::Endpoint,
    ) -> ::endpoint_runtime::__private::MethodRouter {
        ::endpoint_runtime::__private::method_router(endpoint, __endpoint_handler)
    }
    ::endpoint_runtime::__private::inventory::submit! {
        ::endpoint_runtime::__private::Endpoint::__new(::endpoint_runtime::__private::EndpointSpec
        { id : "users", route : "/{id}/files/{*path}", methods :
        ::endpoint_runtime::Methods::List(& [::endpoint_runtime::Method::Put,
        ::endpoint_runtime::Method::Patch]), access :
        ::core::option::Option::Some(::endpoint_runtime::Access::Roles(& ["editor"])),
        handler : ::core::stringify!(put_file), module_path : ::core::module_path!(),
        file : ::core::file!(), line : ::core::line!(), docs : "", params : &
        [::endpoint_runtime::__private::Param { name : "id", ty : "u64", catch_all :
        false }, ::endpoint_runtime::__private::Param { name : "path", ty : "String",
        catch_all : true }], make_route : __endpoint_route, document : __endpoint_doc,
        prerender : false, static_paths : ::core::option::Option::None, })
    }
};
