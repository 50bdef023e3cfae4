//! A return type with `impl Trait` anywhere in it compiles (the generated code never names
//! it), and server-sent events need no dependency but endpoint-runtime.
use endpoint_runtime::prelude::*;
use endpoint_runtime::sse::{Event, Stream, StreamExt, stream};

#[endpoint(id = "t", route = "/nested")]
async fn nested() -> Json<impl serde::Serialize> {
    Json([1, 2, 3])
}

#[endpoint(id = "t", route = "/events", access = authenticated)]
async fn events(LastEventId(last): LastEventId) -> Sse<impl Stream<Item = Event>> {
    let from = last.and_then(|id| id.parse::<u64>().ok()).unwrap_or(0);
    Sse::new(stream::iter(from..from + 3).map(|n| Event::default().id(n.to_string()).data("tick")))
}

#[endpoint(id = "t", route = "/fallible")]
async fn fallible() -> Result<Sse<impl Stream<Item = Result<Event, std::io::Error>>>, EndpointError> {
    Ok(Sse::new(stream::once(async { Ok(Event::default().data("once")) })))
}

#[derive(serde::Serialize)]
struct Tick {
    n: u64,
}

#[endpoint(id = "t", route = "/typed")]
async fn typed() -> Sse<impl Stream<Item = Json<Tick>>> {
    Sse::new(stream::iter([Json(Tick { n: 1 })]))
}

fn main() {}
