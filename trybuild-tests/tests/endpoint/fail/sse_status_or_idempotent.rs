use endpoint_runtime::prelude::*;
use endpoint_runtime::sse::{Event, Stream, stream};

#[endpoint(id = "s", route = "/created", status = 201)]
async fn created() -> Sse<impl Stream<Item = Event>> {
    Sse::new(stream::empty())
}

#[endpoint(id = "s", route = "/replayed", method = post, idempotent)]
async fn replayed() -> Sse<impl Stream<Item = Event>> {
    Sse::new(stream::empty())
}

#[endpoint(id = "s", route = "/built", prerender)]
pub async fn built() -> Sse<impl Stream<Item = Event>> {
    Sse::new(stream::empty())
}

fn main() {}
