//! The Directus/CairnCMS "greet" extension: three GET endpoints mounted under `/greet`.
//!
//! ```text
//! cargo run --example greet
//! curl -s localhost:3210/greet          # Hello, World!
//! curl -s localhost:3210/greet/intro    # Nice to meet you.
//! curl -s localhost:3210/greet/goodbye  # Goodbye!
//! ```

use endpoint_runtime::prelude::*;

/// Greet the world.
#[endpoint(id = "greet", route = "/")]
async fn hello() -> &'static str {
    "Hello, World!"
}

/// Introduce ourselves.
#[endpoint(id = "greet", route = "/intro", method = get)]
async fn intro() -> &'static str {
    "Nice to meet you."
}

/// Say goodbye.
#[endpoint(id = "greet", route = "/goodbye", method = get)]
async fn goodbye() -> &'static str {
    "Goodbye!"
}

#[endpoint_runtime::main]
async fn main() -> Result<(), endpoint_runtime::Error> {
    endpoint_runtime::run().await
}
