//! Expansion snapshots and diagnostic counts, on the stable toolchain (no cargo-expand).
//!
//! Each case expands a `#[endpoint]` call with `expand`, pretty-prints the output with
//! `prettyplease` and compares it with `tests/output/<case>.rs`. Set `UPDATE_EXPANSIONS=1` to
//! rewrite the snapshots, then review the `git diff`.

use proc_macro2::TokenStream;
use quote::quote;

fn pretty(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("expansion is a valid file");
    prettyplease::unparse(&file)
}

fn snapshot(case: &str, args: TokenStream, item: TokenStream) {
    let actual = pretty(super::expand(args, item));
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/output/{case}.rs"));
    if std::env::var_os("UPDATE_EXPANSIONS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with UPDATE_EXPANSIONS=1",
            path.display()
        )
    });
    assert_eq!(
        expected, actual,
        "expansion of `{case}` changed; run with UPDATE_EXPANSIONS=1 and review the diff"
    );
}

/// The number of `compile_error!` invocations in an expansion.
fn error_count(args: TokenStream, item: TokenStream) -> usize {
    super::expand(args, item)
        .to_string()
        .matches("compile_error")
        .count()
}

#[test]
fn expands_a_plain_get() {
    snapshot(
        "plain_get",
        quote!(id = "greet", route = "/intro"),
        quote! {
            /// Say hello.
            async fn intro() -> &'static str { "Nice to meet you." }
        },
    );
}

#[test]
fn expands_a_traffic_policy() {
    snapshot(
        "policy",
        quote!(
            id = "reports",
            route = "/",
            method = post,
            timeout = "2s",
            body_limit = "10MiB",
            concurrency = 16,
            rate_limit = "10/minute",
            per = ip
        ),
        quote! {
            async fn report() -> &'static str { "queued" }
        },
    );
}

#[test]
fn expands_params_extractors_and_access() {
    snapshot(
        "params_and_body",
        quote!(
            id = "users",
            route = "/{id}/files/{*path}",
            method = [put, patch],
            access = authenticated,
            roles = ["editor"]
        ),
        quote! {
            async fn put_file(id: u64, who: Accountability, path: String, body: Json<Value>) -> Result<String, EndpointError> {
                Ok(path)
            }
        },
    );
}

#[test]
fn expands_all_at_root_with_renamed_crate() {
    snapshot(
        "all_root_renamed",
        quote!(
            id = "/",
            route = "/methods.json",
            method = all,
            crate = ::my_runtime
        ),
        quote! { async fn any_method() {} },
    );
}

/// Every path into the runtime in `out` goes through `__private`, the one hidden surface.
fn assert_only_private(out: &str, runtime: &str) {
    let needle = format!("{runtime} :: ");
    for (at, _) in out.match_indices(&needle) {
        let rest = &out[at + needle.len()..];
        assert!(
            rest.starts_with("__private"),
            "a path outside `__private`: `{}` in\n{out}",
            &out[at..(at + needle.len() + 40).min(out.len())]
        );
    }
}

#[test]
fn every_macro_names_the_runtime_only_through_private() {
    let endpoint = super::expand(
        quote!(route = "/{id}", method = [get, post], access = admin),
        quote! { async fn f(id: u32, q: Query<X>) -> String { String::new() } },
    );
    let hook = crate::hook::expand(
        quote!(event = "a.b"),
        quote! { async fn h(event: Event, ctx: Context) -> Result<(), EndpointError> { Ok(()) } },
    );
    use crate::main_fn::Kind;
    let main = crate::main_fn::expand(quote!(), quote! { async fn main() {} }, Kind::Main);
    let test = crate::main_fn::expand(quote!(), quote! { async fn t() {} }, Kind::Test);
    for out in [endpoint, hook, main, test] {
        let out = out.to_string();
        assert!(out.contains(":: endpoint_runtime :: __private"), "{out}");
        assert_only_private(&out, ":: endpoint_runtime");
    }
    let renamed_hook = crate::hook::expand(
        quote!(event = "a.b", crate = ::rt),
        quote! { async fn h(event: Event) {} },
    );
    let renamed_main = crate::main_fn::expand(
        quote!(crate = ::rt),
        quote! { async fn main() {} },
        Kind::Main,
    );
    let renamed_test =
        crate::main_fn::expand(quote!(crate = ::rt), quote! { async fn t() {} }, Kind::Test);
    for out in [renamed_hook, renamed_main, renamed_test] {
        let out = out.to_string();
        assert!(!out.contains("endpoint_runtime"), "{out}");
        assert_only_private(&out, ":: rt");
    }
}

#[test]
fn renamed_crate_never_names_the_default_path() {
    let out = super::expand(
        quote!(route = "/{id}", crate = renamed::rt),
        quote! { async fn f(id: u32, q: Query<X>) -> String { String::new() } },
    )
    .to_string();
    assert!(!out.contains("endpoint_runtime"), "{out}");
    assert!(out.contains("renamed :: rt :: __private"), "{out}");
}

#[test]
fn reports_every_mistake_at_once() {
    // Unknown argument, old parameter syntax, unknown method, non-async fn: four errors.
    let count = error_count(
        quote!(route = "/:id", method = fetch, colour = "blue"),
        quote! { fn f(id: u64) {} },
    );
    assert_eq!(count, 4);
}

#[test]
fn emits_the_function_even_on_error() {
    let out = super::expand(quote!(route = "nope"), quote! { async fn kept() {} }).to_string();
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("async fn kept"), "{out}");
    assert!(!out.contains("inventory"), "{out}");
}

#[test]
fn missing_route_is_reported() {
    assert_eq!(
        error_count(quote!(method = get), quote! { async fn f() {} }),
        1
    );
}

#[test]
fn underscore_argument_binds_its_parameter() {
    assert_eq!(
        error_count(quote!(route = "/{id}"), quote! { async fn f(_id: u64) {} }),
        0
    );
    assert_eq!(
        error_count(
            quote!(route = "/{id}"),
            quote! { async fn f(id: u64, _id: u64) {} }
        ),
        1
    );
}

#[test]
fn literal_from_macro_rules_is_accepted() {
    // `$route:literal` arrives wrapped in an invisible group.
    let literal = proc_macro2::Group::new(proc_macro2::Delimiter::None, quote!("/echo/{word}"));
    let args = quote!(id = "macro", route = #literal);
    assert_eq!(
        error_count(args, quote! { async fn f(word: String) -> String { word } }),
        0
    );
}

#[test]
fn expands_prerender_with_static_paths() {
    snapshot(
        "prerender_static_paths",
        quote!(
            id = "api",
            route = "/users/{id}",
            prerender,
            static_paths = user_ids
        ),
        quote! {
            async fn user(id: u32) -> String { id.to_string() }
        },
    );
}

#[test]
fn prerender_mistakes_are_each_reported() {
    // A POST, an access level and a missing `static_paths`: three errors.
    assert_eq!(
        error_count(
            quote!(route = "/{id}", method = post, access = admin, prerender),
            quote! { async fn f(id: u32) {} }
        ),
        3
    );
    assert_eq!(
        error_count(
            quote!(route = "/x", prerender = true),
            quote! { async fn f() {} }
        ),
        1
    );
    // `static_paths` on a route without parameters, and without `prerender`.
    assert_eq!(
        error_count(
            quote!(route = "/x", prerender, static_paths = f),
            quote! { async fn f() {} }
        ),
        1
    );
    assert_eq!(
        error_count(
            quote!(route = "/{id}", static_paths = ids),
            quote! { async fn f(id: u32) {} }
        ),
        1
    );
    // `static_paths = "ids"` is not a path.
    assert_eq!(
        error_count(
            quote!(route = "/{id}", prerender, static_paths = "ids"),
            quote! { async fn f(id: u32) {} }
        ),
        1
    );
    // Written without access, a prerendered endpoint is public.
    let out = super::expand(
        quote!(route = "/x.json", prerender),
        quote! { async fn f() {} },
    )
    .to_string();
    assert!(out.contains("Access :: Public"), "{out}");
}

#[test]
fn expands_a_confined_endpoint() {
    snapshot(
        "confined",
        quote!(
            id = "sandbox",
            route = "/greet/{name}",
            confined,
            capabilities(log, request = ["HTTPS://API.Example.com."])
        ),
        quote! {
            fn greet(request: ConfinedRequest, host: &mut Host) -> Result<Reply, ConfinedError> {
                Ok(Reply::ok(json!({})))
            }
        },
    );
}

#[test]
fn the_typed_call_type_is_emitted_unless_turned_off() {
    let with = super::expand(
        quote!(route = "/{query}", since = "1.2"),
        quote! { async fn kinds(query: String, q: Query<Q>) -> String { query } },
    )
    .to_string();
    assert!(with.contains("struct kinds { }"), "{with}");
    // The query value takes a name no route parameter has; the version is sent.
    assert!(
        with.contains("fn request (query : String , query_ : Q)"),
        "{with}"
    );
    assert!(
        with.contains(". header (\"api-version\" , \"1.2\")"),
        "{with}"
    );
    let without = super::expand(
        quote!(route = "/", client = false),
        quote! { async fn users() -> String { String::new() } },
    )
    .to_string();
    assert!(!without.contains("struct users"), "{without}");
}
