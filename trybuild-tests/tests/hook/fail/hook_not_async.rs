use endpoint_runtime::prelude::*;

#[hook(event = "article.published")]
fn audit(event: Event) {
    let _ = event;
}

fn main() {}
