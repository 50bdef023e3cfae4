use endpoint_runtime::axum::extract::Request;
use endpoint_runtime::axum::middleware::Next;
use endpoint_runtime::axum::response::Response;
use endpoint_runtime::middleware;

#[middleware(id = "greet")]
fn not_async(request: Request, next: Next) -> Response {
    let _ = (request, next);
    Response::default()
}

#[middleware(id = "greet")]
async fn swapped(next: Next, request: Request) -> Response {
    next.run(request).await
}

#[middleware(id = "greet")]
async fn no_next(request: Request) -> Response {
    let _ = request;
    Response::default()
}

#[middleware(id = "greet", order = "first")]
async fn quoted_order(request: Request, next: Next) -> Response {
    next.run(request).await
}

#[middleware(id = "not a group")]
async fn bad_id(request: Request, next: Next) -> Response {
    next.run(request).await
}

#[middleware(group = "greet")]
async fn unknown_argument(request: Request, next: Next) -> Response {
    next.run(request).await
}

/// An argument that is not an extractor: the compiler names the trait.
#[middleware(id = "greet")]
async fn not_an_extractor(count: u32, request: Request, next: Next) -> Response {
    let _ = count;
    next.run(request).await
}

fn main() {}
