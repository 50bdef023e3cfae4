use endpoint_runtime::prelude::*;

#[hook(name = "article.published")]
async fn audit(event: Event) {
    let _ = event;
}

fn main() {}
