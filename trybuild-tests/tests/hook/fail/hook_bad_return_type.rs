use endpoint_runtime::prelude::*;

#[hook(event = "article.published")]
async fn audit(event: Event) -> u32 {
    let _ = event;
    0
}

fn main() {}
