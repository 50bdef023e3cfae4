//! The application's command line, read by [`run()`](crate::run): `serve` (the default),
//! `routes`, `openapi`, `check`, `build` and `token`.

use std::time::Duration;

use clap::{Parser, Subcommand};

/// The commands of an application built on endpoint-runtime.
#[derive(Debug, Parser)]
#[command(about = "An application built on endpoint-runtime", long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the endpoints (the default)
    Serve,
    /// Print the route table and exit
    Routes,
    /// Print the OpenAPI 3.1 document and exit
    Openapi,
    /// Validate the registry (route conflicts) and exit non-zero if it is invalid; warn about
    /// endpoints that change state (POST, PUT, PATCH, DELETE, `all`) and are public only
    /// because their attribute states no access
    Check {
        /// Exit non-zero on those endpoints too, listing them
        #[arg(long)]
        strict: bool,
    },
    /// Prerender the endpoints marked `prerender` into static files (Astro's static mode)
    Build {
        /// The output directory; replaced by the new build when a build wrote it before
        #[arg(long, default_value = "dist")]
        out: std::path::PathBuf,
    },
    /// Print a development JWT signed with ENDPOINT_JWT_SECRET (HS256)
    Token {
        /// The user id (the `sub` claim)
        #[arg(long)]
        user: String,
        /// The role claim
        #[arg(long)]
        role: Option<String>,
        /// Make the user an admin
        #[arg(long)]
        admin: bool,
        /// How long the token is valid, such as `1h` or `30m`
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
}
