use endpoint_runtime::prelude::*;

struct Report {
    rows: usize,
}

#[endpoint(id = "reports", route = "/latest")]
async fn latest() -> Report {
    Report { rows: 0 }
}

fn main() {}
