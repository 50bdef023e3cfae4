use endpoint_runtime::prelude::*;

struct Settings;

#[endpoint(id = "settings", route = "/")]
async fn settings(settings: Settings) -> &'static str {
    let _ = settings;
    "ok"
}

fn main() {}
