use endpoint_runtime::prelude::*;

#[endpoint(id = "p", route = "/a", timeout = "2 seconds")]
async fn bad_duration() -> &'static str {
    "a"
}

#[endpoint(id = "p", route = "/b", timeout = "0s")]
async fn zero_timeout() -> &'static str {
    "b"
}

#[endpoint(id = "p", route = "/c", method = post, body_limit = "10 megabytes")]
async fn bad_size() -> &'static str {
    "c"
}

#[endpoint(id = "p", route = "/d", concurrency = 0)]
async fn zero_concurrency() -> &'static str {
    "d"
}

#[endpoint(id = "p", route = "/e", rate_limit = "10 per minute")]
async fn bad_rate() -> &'static str {
    "e"
}

#[endpoint(id = "p", route = "/f", rate_limit = "0/minute")]
async fn zero_rate() -> &'static str {
    "f"
}

#[endpoint(id = "p", route = "/g", per = ip)]
async fn per_without_rate() -> &'static str {
    "g"
}

#[endpoint(id = "p", route = "/h", rate_limit = "5/second", per = tenant)]
async fn unknown_key() -> &'static str {
    "h"
}

#[endpoint(id = "p", route = "/i", concurrency = "16")]
async fn quoted_concurrency() -> &'static str {
    "i"
}

fn main() {}
