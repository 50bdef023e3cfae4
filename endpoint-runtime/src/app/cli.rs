//! The application's command line, read by [`run()`](crate::run): `serve` (the default),
//! `routes`, `openapi`, `check`, `build` and `token`, and the route table they print.

use std::fmt::Write as _;
#[cfg(feature = "jwt")]
use std::time::Duration;

use clap::{Parser, Subcommand};

use super::App;
use crate::config::Config;
use crate::error::Error;
use crate::registry::{Endpoint, endpoints};

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
    /// Print the route table and exit (non-zero when routes conflict, naming both sites)
    Routes,
    /// Print the OpenAPI 3.1 document and exit
    #[cfg(feature = "openapi")]
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
    #[cfg(feature = "prerender")]
    Build {
        /// The output directory; replaced by the new build when a build wrote it before
        #[arg(long, default_value = "dist")]
        out: std::path::PathBuf,
    },
    #[cfg(feature = "jwt")]
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

/// What [`App::run`] does: reads the command line, then runs the command.
pub(super) async fn run(mut app: App) -> Result<(), Error> {
    use clap::Parser as _;
    let cli = Cli::try_parse().unwrap_or_else(|error| error.exit());
    let config = super::given_or_env(app.config.take())?;
    match cli.command {
        #[cfg(feature = "jwt")]
        Some(Command::Token {
            user,
            role,
            admin,
            ttl,
        }) => {
            let Some(jwt) = &config.jwt else {
                return Err(Error::Usage(
                    "`token` needs ENDPOINT_JWT_SECRET: set it to a secret of at least 32 bytes"
                        .into(),
                ));
            };
            let token = crate::auth::mint_token(jwt, &user, role.as_deref(), admin, ttl)
                .map_err(Error::Usage)?;
            println!("{token}");
            return Ok(());
        }
        Some(Command::Routes) => {
            let all = endpoints();
            print!("{}", route_table(&all, &config));
            // The table shows what is registered; conflicts make it exit non-zero.
            return crate::routing::check_all(&all, &config);
        }
        #[cfg(feature = "openapi")]
        Some(Command::Openapi) => {
            let document = crate::openapi::document(&endpoints(), &config);
            println!(
                "{}",
                serde_json::to_string_pretty(&document).unwrap_or_default()
            );
            return Ok(());
        }
        Some(Command::Check { strict }) => {
            let all = endpoints();
            crate::routing::check(&all)?;
            if let Some(unstated) = unstated_public(&all, &config) {
                if strict {
                    return Err(Error::AccessNotStated(unstated));
                }
                eprint!("warning: {unstated}");
            }
            println!("ok: {} endpoints, no route conflicts", all.len());
            return Ok(());
        }
        #[cfg(feature = "prerender")]
        Some(Command::Build { out }) => {
            crate::logging::init(config.log_format);
            let site = config.site.clone().unwrap_or_else(|| config.server_url());
            println!("prerendering into {} (site {site})", out.display());
            let report = app
                .config(config)
                .prerender_endpoints(&out, endpoints(), &mut |file| {
                    println!(
                        "  GET {} -> {} ({} B, {})",
                        file.url,
                        file.file.display(),
                        file.bytes,
                        file.handler
                    );
                })
                .await?;
            println!(
                "wrote {} file(s), {} B, to {} in {} ms",
                report.files.len(),
                report.bytes(),
                report.out.display(),
                report.elapsed.as_millis()
            );
            return Ok(());
        }
        Some(Command::Serve) | None => {}
    }
    crate::logging::init(config.log_format);
    let server = app.config(config).bind().await?;
    let signal = crate::serve::shutdown_signal();
    print!("{}", server.route_table());
    if server.endpoints.is_empty() {
        eprintln!(
            "warning: no endpoints are registered; if they live in a library crate, add \
                 `endpoint_runtime::link!(that_crate);` to the binary"
        );
    }
    println!("listening on http://{}", server.local_addr());
    server.serve_until(signal).await
}

/// Formats the route table of `endpoints`.
pub(crate) fn route_table(endpoints: &[&'static Endpoint], config: &Config) -> String {
    let default = config.default_access;
    #[cfg(feature = "openapi")]
    let notes = crate::openapi::notes(endpoints);
    #[cfg(not(feature = "openapi"))]
    let notes: std::collections::HashMap<(String, &str), Vec<String>> = Default::default();
    let header = ["METHOD", "PATH", "ACCESS", "HANDLER", "SOURCE"];
    let rows: Vec<[String; 5]> = endpoints
        .iter()
        .map(|e| {
            let module = e
                .module_path()
                .split_once("::")
                .map_or("", |(_, rest)| rest);
            let handler = if module.is_empty() {
                e.handler().to_string()
            } else {
                format!("{module}::{}", e.handler())
            };
            let mut access = if e.prerender() {
                format!("{} (prerender)", crate::auth::effective(e, default))
            } else if let Some(spec) = e.confined() {
                let capabilities = spec.capabilities();
                if capabilities.is_empty() {
                    format!("{} (confined)", crate::auth::effective(e, default))
                } else {
                    format!(
                        "{} (confined: {capabilities})",
                        crate::auth::effective(e, default)
                    )
                }
            } else {
                crate::auth::effective(e, default).to_string()
            };
            if crate::auth::public_by_default_and_changes_state(e, default) {
                access.push_str(" (not stated)");
            }
            [
                e.methods().to_string(),
                e.path(),
                access,
                handler,
                match notes.get(&(e.path(), e.handler())) {
                    Some(notes) if !notes.is_empty() => {
                        format!("{}  note: {}", e.location(), notes.join("; "))
                    }
                    _ => e.location(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 5]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    #[cfg(feature = "confined")]
    if let Some(status) = crate::confined::pool_status()
        && endpoints.iter().any(|e| e.confined().is_some())
    {
        out.push_str(status);
        out.push('\n');
    }
    if let Some(unstated) = unstated_public(endpoints, config) {
        out.push_str("warning: ");
        out.push_str(&unstated);
    }
    out
}

/// The warning of the route table and `check`, the error of `check --strict`: every endpoint
/// that changes state and is public only because its attribute states no access (see
/// [`access::public_by_default_and_changes_state`](crate::auth::public_by_default_and_changes_state)),
/// one line each, and how to fix it. `None` when there is none.
fn unstated_public(endpoints: &[&'static Endpoint], config: &Config) -> Option<String> {
    let flagged: Vec<&&Endpoint> = endpoints
        .iter()
        .filter(|e| crate::auth::public_by_default_and_changes_state(e, config.default_access))
        .collect();
    if flagged.is_empty() {
        return None;
    }
    let mut out = format!(
        "{} endpoint(s) change state and are public only because their attribute states no access:\n",
        flagged.len()
    );
    for e in flagged {
        let _ = writeln!(
            out,
            "  - {} {} ({}::{} at {})",
            e.methods(),
            e.path(),
            e.module_path(),
            e.handler(),
            e.location()
        );
    }
    out.push_str(
        "  state who may call each: `access = authenticated`, `access = admin` or `roles = [...]`, \
         or `access = public` if anyone may; or set ENDPOINT_DEFAULT_ACCESS=authenticated. \
         `check --strict` fails until then.\n",
    );
    Some(out)
}
