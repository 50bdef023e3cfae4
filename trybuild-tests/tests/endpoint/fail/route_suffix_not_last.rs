use endpoint_runtime::prelude::*;

// Astro's `[id].json.ts` is a file: the suffixed parameter is the last segment.
#[endpoint(id = "/", route = "/products/{id}.json/reviews")]
async fn reviews(id: u64) -> String {
    id.to_string()
}

fn main() {}
