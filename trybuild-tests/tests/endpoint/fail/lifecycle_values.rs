use endpoint_runtime::prelude::*;

// A version that is not one, and an `until` that is not after `since`.
#[endpoint(id = "a", route = "/a", since = "v1", until = "2.0.0.1")]
async fn a() -> &'static str {
    ""
}

#[endpoint(id = "b", route = "/b", since = "2.0", until = "1.9")]
async fn b() -> &'static str {
    ""
}

// `deprecated` needs its date, a real one; `sunset` needs `deprecated`, after it.
#[endpoint(id = "c", route = "/c", deprecated)]
async fn c() -> &'static str {
    ""
}

#[endpoint(id = "d", route = "/d", deprecated = "2026-02-30")]
async fn d() -> &'static str {
    ""
}

#[endpoint(id = "e", route = "/e", sunset = "2027-01-01")]
async fn e() -> &'static str {
    ""
}

#[endpoint(id = "f", route = "/f", deprecated = "2027-01-01", sunset = "2026-01-01")]
async fn f() -> &'static str {
    ""
}

// A prerendered file has no versions.
#[endpoint(id = "g", route = "/g", prerender, since = "1.2")]
async fn g() -> &'static str {
    ""
}

fn main() {}
