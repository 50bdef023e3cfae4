use endpoint_runtime::prelude::*;

#[hook(event = "article.published", durable = true)]
async fn audit(event: Event) {
    let _ = event;
}

fn main() {}
