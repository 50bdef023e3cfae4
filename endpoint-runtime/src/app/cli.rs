//! The application's command line, read by [`run()`](crate::run): `serve` (the default),
//! `routes`, `openapi`, `check`, `build` and `token`, and the route table they print.

use std::fmt::Write as _;
#[cfg(feature = "jwt")]
use std::time::Duration;

use super::App;
use crate::config::Config;
use crate::error::Error;
use crate::registry::{Endpoint, endpoints};

/// A command of an application built on endpoint-runtime.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// Serve the endpoints (the default).
    Serve,
    /// Print the route table and exit.
    Routes,
    /// Print the OpenAPI 3.1 document and exit.
    #[cfg(feature = "openapi")]
    Openapi {
        /// Write it, as it is locked, to this file instead.
        write: Option<std::path::PathBuf>,
        /// The API version to document (default: the newest).
        version: Option<crate::ApiVersion>,
    },
    /// Validate the registry and exit.
    Check {
        /// Exit non-zero on public state-changing endpoints too.
        strict: bool,
        /// Compare the OpenAPI document with this lock file.
        api: Option<std::path::PathBuf>,
    },
    /// Prerender the endpoints marked `prerender`.
    #[cfg(feature = "prerender")]
    Build {
        /// The output directory.
        out: std::path::PathBuf,
    },
    /// Run one `#[schedule]` job now.
    #[cfg(feature = "schedule")]
    RunJob {
        /// The job's name.
        name: String,
    },
    /// Print a development JWT.
    #[cfg(feature = "jwt")]
    Token {
        /// The `sub` claim.
        user: String,
        /// The role claim.
        role: Option<String>,
        /// The admin claim.
        admin: bool,
        /// How long the token is valid.
        ttl: Duration,
    },
}

/// One command's line in the help: its name, what it does and its options (`--flag`, help).
struct Help {
    name: &'static str,
    about: &'static str,
    options: &'static [(&'static str, &'static str)],
}

/// The commands, in the order the help lists them.
const COMMANDS: &[Help] = &[
    Help {
        name: "serve",
        about: "Serve the endpoints (the default)",
        options: &[],
    },
    Help {
        name: "routes",
        about: "Print the route table and exit (non-zero when routes conflict, naming both sites)",
        options: &[],
    },
    #[cfg(feature = "openapi")]
    Help {
        name: "openapi",
        about: "Print the OpenAPI 3.1 document and exit",
        options: &[
            (
                "--write <FILE>",
                "Write the document as it is locked (without `servers` and `x-source`) to FILE, \
                 for `check --api FILE`",
            ),
            (
                "--version <VERSION>",
                "Document this API version (`since` / `until` of the endpoints) [default: the \
                 newest]",
            ),
        ],
    },
    Help {
        name: "check",
        about: "Validate the registry (route conflicts) and exit non-zero if it is invalid; warn \
                about endpoints that change state (POST, PUT, PATCH, DELETE, `all`) and are \
                public only because their attribute states no access",
        options: &[
            (
                "--strict",
                "Exit non-zero on those endpoints too, listing them",
            ),
            #[cfg(feature = "openapi")]
            (
                "--api <FILE>",
                "Compare the OpenAPI document with the lock FILE (written by `openapi --write`): \
                 exit non-zero on any difference, listing breaking changes first",
            ),
        ],
    },
    #[cfg(feature = "prerender")]
    Help {
        name: "build",
        about: "Prerender the endpoints marked `prerender` into static files (Astro's static mode)",
        options: &[(
            "--out <DIR>",
            "The output directory; replaced by the new build when a build wrote it before \
             [default: dist]",
        )],
    },
    #[cfg(feature = "schedule")]
    Help {
        name: "run-job",
        about: "Run one `#[schedule]` job now, as the scheduler would (with a database, \
                refused while it runs on any instance), and exit non-zero if it fails",
        options: &[(
            "<NAME>",
            "The job's name, required (`routes` lists the jobs)",
        )],
    },
    #[cfg(feature = "jwt")]
    Help {
        name: "token",
        about: "Print a development JWT signed with ENDPOINT_JWT_SECRET (HS256)",
        options: &[
            ("--user <USER>", "The user id (the `sub` claim), required"),
            ("--role <ROLE>", "The role claim"),
            ("--admin", "Make the user an admin"),
            (
                "--ttl <TTL>",
                "How long the token is valid, such as `1h` or `30m` [default: 1h]",
            ),
        ],
    },
];

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// Run a command.
    Run(Command),
    /// Print this help (`--help`, `-h`, `help [COMMAND]`) and exit 0.
    Help(String),
}

/// Reads the command line (without the binary's name): `[COMMAND] [OPTIONS]`, clap's
/// conventions (`--out dist` or `--out=dist`, `-h`/`--help` anywhere, `help <command>`).
///
/// Hand-written over `lexopt` instead of clap's derive: clap cost 11.4 s of CPU in a cold
/// release build of `examples/greet` without default features (clap_builder 9.8 s,
/// clap_derive 1.6 s; `cargo build --release --timings`, 2026-12-01), a tenth of the build,
/// for six commands and five options.
///
/// # Errors
///
/// The message of a command line that is not one of these (`run` prints it with the usage
/// line and exits 2, as clap does).
pub(crate) fn parse(
    bin: &str,
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<Parsed, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut command: Option<&'static Help> = None;
    let (mut strict, mut admin) = (false, false);
    let (mut out, mut user, mut role, mut ttl, mut job) = (None, None, None, None, None);
    // Set by `check --api` and `openapi --write`, options of the `openapi` feature.
    #[cfg_attr(not(feature = "openapi"), allow(unused_mut))]
    let (mut api, mut write): (Option<std::path::PathBuf>, Option<std::path::PathBuf>) =
        (None, None);
    #[cfg_attr(not(feature = "openapi"), allow(unused_mut))]
    let mut version: Option<crate::ApiVersion> = None;
    let text = |value: std::ffi::OsString| {
        value
            .into_string()
            .map_err(|value| format!("invalid UTF-8 in {value:?}"))
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        let name = command.map(|help| help.name);
        match arg {
            Short('h') | Long("help") => return Ok(Parsed::Help(help(bin, command))),
            Value(value) if command.is_none() => {
                let value = text(value)?;
                if value == "help" {
                    let of = parser.value().ok().map(text).transpose()?;
                    return match of.as_deref().map(find) {
                        None => Ok(Parsed::Help(help(bin, None))),
                        Some(Some(of)) => Ok(Parsed::Help(help(bin, Some(of)))),
                        Some(None) => Err(unknown(of.as_deref().unwrap_or_default())),
                    };
                }
                command = Some(find(&value).ok_or_else(|| unknown(&value))?);
            }
            Value(value) if name == Some("run-job") && job.is_none() => job = Some(text(value)?),
            Long("strict") if name == Some("check") => strict = true,
            #[cfg(feature = "openapi")]
            Long("api") if name == Some("check") => {
                api = Some(parser.value().map_err(|e| e.to_string())?.into());
            }
            #[cfg(feature = "openapi")]
            Long("write") if name == Some("openapi") => {
                write = Some(parser.value().map_err(|e| e.to_string())?.into());
            }
            #[cfg(feature = "openapi")]
            Long("version") if name == Some("openapi") => {
                let value = text(parser.value().map_err(|e| e.to_string())?)?;
                version = Some(value.parse().map_err(|error: String| {
                    format!("invalid value '{value}' for '--version <VERSION>': {error}")
                })?);
            }
            Long("out") if name == Some("build") => {
                out = Some(std::path::PathBuf::from(
                    parser.value().map_err(|e| e.to_string())?,
                ));
            }
            Long("user") if name == Some("token") => {
                user = Some(text(parser.value().map_err(|e| e.to_string())?)?);
            }
            Long("role") if name == Some("token") => {
                role = Some(text(parser.value().map_err(|e| e.to_string())?)?);
            }
            Long("admin") if name == Some("token") => admin = true,
            Long("ttl") if name == Some("token") => {
                let value = text(parser.value().map_err(|e| e.to_string())?)?;
                ttl = Some(humantime::parse_duration(&value).map_err(|error| {
                    format!("invalid value '{value}' for '--ttl <TTL>': {error}")
                })?);
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    // Read only by the commands this build has (`build`, `token` are features).
    let _ = (&out, &user, &role, &ttl, admin, &write, &version, &job);
    Ok(Parsed::Run(match command.map(|help| help.name) {
        None | Some("serve") => Command::Serve,
        Some("routes") => Command::Routes,
        #[cfg(feature = "openapi")]
        Some("openapi") => Command::Openapi { write, version },
        #[cfg(feature = "prerender")]
        Some("build") => Command::Build {
            out: out.unwrap_or_else(|| "dist".into()),
        },
        #[cfg(feature = "jwt")]
        Some("token") => Command::Token {
            user: user.ok_or("the following required argument was not provided: --user <USER>")?,
            role,
            admin,
            ttl: ttl.unwrap_or(Duration::from_secs(3600)),
        },
        Some("check") => Command::Check { strict, api },
        #[cfg(feature = "schedule")]
        Some("run-job") => Command::RunJob {
            name: job.ok_or("the following required argument was not provided: <NAME>")?,
        },
        Some(other) => return Err(unknown(other)),
    }))
}

/// The command named `name`, among those this build has.
fn find(name: &str) -> Option<&'static Help> {
    COMMANDS.iter().find(|help| help.name == name)
}

fn unknown(name: &str) -> String {
    let names: Vec<&str> = COMMANDS.iter().map(|help| help.name).collect();
    format!(
        "unrecognized command '{name}' (the commands: {})",
        names.join(", ")
    )
}

/// The help of the application, or of one command.
fn help(bin: &str, command: Option<&Help>) -> String {
    let mut out = String::new();
    match command {
        None => {
            let _ = write!(
                out,
                "An application built on endpoint-runtime\n\nUsage: {bin} [COMMAND]\n\nCommands:\n"
            );
            let width = COMMANDS
                .iter()
                .map(|help| help.name.len())
                .max()
                .unwrap_or(0);
            for help in COMMANDS {
                let _ = writeln!(out, "  {:width$}  {}", help.name, help.about);
            }
            let _ = writeln!(
                out,
                "  {:width$}  Print this message or the help of the given command",
                "help"
            );
            out.push_str("\nOptions:\n  -h, --help  Print help\n");
        }
        Some(help) => {
            let _ = write!(out, "{}\n\nUsage: {bin} {}", help.about, help.name);
            // `<NAME>` is an argument, `--flag` an option.
            let (arguments, flags): (Vec<_>, Vec<_>) = help
                .options
                .iter()
                .partition(|(flag, _)| flag.starts_with('<'));
            if !flags.is_empty() {
                out.push_str(" [OPTIONS]");
            }
            for (argument, _) in arguments {
                let _ = write!(out, " {argument}");
            }
            out.push_str("\n\nOptions:\n");
            let width = help
                .options
                .iter()
                .map(|(flag, _)| flag.len())
                .max()
                .unwrap_or(0)
                .max("-h, --help".len());
            for (flag, text) in help.options {
                let _ = writeln!(out, "  {flag:width$}  {text}");
            }
            let _ = writeln!(out, "  {:width$}  Print help", "-h, --help");
        }
    }
    out
}

/// What [`App::run`] does: reads the command line, then runs the command. `--help` prints and
/// exits 0; a command line that is not understood prints why and exits 2 (clap's codes).
pub(super) async fn run(mut app: App) -> Result<(), Error> {
    let mut args = std::env::args_os();
    let bin = args
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "app".into());
    let command = match parse(&bin, args) {
        Ok(Parsed::Run(command)) => command,
        Ok(Parsed::Help(help)) => {
            print!("{help}");
            std::process::exit(0);
        }
        Err(message) => {
            eprintln!(
                "error: {message}\n\nUsage: {bin} [COMMAND]\n\nFor more information, try '--help'."
            );
            std::process::exit(2);
        }
    };
    let config = super::given_or_env(app.config.take())?;
    match command {
        #[cfg(feature = "jwt")]
        Command::Token {
            user,
            role,
            admin,
            ttl,
        } => {
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
        Command::Routes => {
            let all = endpoints();
            print!("{}", route_table(&all, &config, app.static_mounts()));
            // The table shows what is registered; conflicts make it exit non-zero.
            return crate::routing::check_all(&all, &config);
        }
        #[cfg(feature = "openapi")]
        Command::Openapi { write, version } => {
            let all = endpoints();
            if let Some(version) = version {
                match crate::ApiVersion::newest(&all) {
                    None => {
                        return Err(Error::Usage(format!(
                            "`--version {version}`: this API is not versioned (no endpoint \
                             states `since` or `until`)"
                        )));
                    }
                    Some(newest) if version > newest => {
                        return Err(Error::Usage(format!(
                            "`--version {version}`: this API's newest version is {newest}"
                        )));
                    }
                    Some(_) => {}
                }
            }
            let document = crate::openapi::document_at(&all, &config, version);
            let Some(path) = write else {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&document).unwrap_or_default()
                );
                return Ok(());
            };
            // One version asked for: its document; else the whole API's lock.
            let locked = match version {
                Some(_) => crate::openapi::locked(&document),
                None => crate::openapi::lock_of(&all, &config),
            };
            let text = serde_json::to_string_pretty(&locked).unwrap_or_default() + "\n";
            std::fs::write(&path, text).map_err(|error| {
                Error::Usage(format!("cannot write {}: {error}", path.display()))
            })?;
            println!("wrote the API lock {}", path.display());
            return Ok(());
        }
        Command::Check { strict, api } => {
            let all = endpoints();
            crate::routing::check(&all)?;
            #[cfg(feature = "openapi")]
            if let Some(path) = api {
                check_api(&path, &all, &config)?;
            }
            #[cfg(not(feature = "openapi"))]
            let _ = api;
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
        Command::Build { out } => {
            super::init_logging(config.log_format);
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
        #[cfg(feature = "schedule")]
        Command::RunJob { name } => {
            super::init_logging(config.log_format);
            app.config(config).run_job(&name).await?;
            println!("ran `{name}`");
            return Ok(());
        }
        Command::Serve => {}
    }
    super::init_logging(config.log_format);
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

/// `check --api FILE`: the live document against the lock, each change on a line of its own.
#[cfg(feature = "openapi")]
fn check_api(
    path: &std::path::Path,
    all: &[&'static Endpoint],
    config: &Config,
) -> Result<(), Error> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Error::Usage(format!(
            "cannot read the API lock {}: {error} (write it with `openapi --write {}`)",
            path.display(),
            path.display()
        ))
    })?;
    let lock: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        Error::Usage(format!(
            "the API lock {} is not JSON: {error}",
            path.display()
        ))
    })?;
    let changes = crate::openapi::compare_locks(&lock, &crate::openapi::lock_of(all, config));
    if changes.is_empty() {
        println!("ok: the API matches {}", path.display());
        return Ok(());
    }
    let breaking = changes.iter().filter(|c| c.breaking).count();
    let mut message = format!(
        "the API differs from {}: {breaking} breaking, {} compatible change(s)\n",
        path.display(),
        changes.len() - breaking
    );
    for change in &changes {
        let _ = writeln!(message, "  {change}");
    }
    let _ = write!(
        message,
        "review them, then update the lock with `openapi --write {}`{}",
        path.display(),
        if breaking > 0 {
            " (a breaking change breaks the clients written against the lock: keep what \
             they use, or release the change as a new API version, the old endpoint with \
             `until = \"N\"` beside the new one with `since = \"N\"`)"
        } else {
            ""
        }
    );
    Err(Error::ApiChanged(message))
}

/// Formats the route table of `endpoints`.
pub(crate) fn route_table(
    endpoints: &[&'static Endpoint],
    config: &Config,
    static_files: &[(String, std::path::PathBuf)],
) -> String {
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
            [e.methods().to_string(), e.path(), access, handler, {
                let mut notes = notes
                    .get(&(e.path(), e.handler()))
                    .cloned()
                    .unwrap_or_default();
                notes.extend(policy_note(e, config));
                let functions = crate::middleware::for_endpoint(e);
                if !functions.is_empty() {
                    let names: Vec<&str> = functions.iter().map(|m| m.handler()).collect();
                    notes.push(format!("middleware {}", names.join(", ")));
                }
                if notes.is_empty() {
                    e.location()
                } else {
                    format!("{}  note: {}", e.location(), notes.join("; "))
                }
            }]
        })
        .collect();
    let mut rows = rows;
    for (path, what) in [
        (&config.livez_path, "liveness (ENDPOINT_LIVEZ_PATH)"),
        (&config.readyz_path, "readiness (ENDPOINT_READYZ_PATH)"),
    ] {
        if let Some(path) = path {
            rows.push([
                "GET".into(),
                path.clone(),
                "public (runtime)".into(),
                what.into(),
                "endpoint-runtime".into(),
            ]);
        }
    }
    if cfg!(feature = "metrics")
        && let Some(path) = &config.metrics_path
    {
        rows.push([
            "GET".into(),
            path.clone(),
            "admin (runtime)".into(),
            "metrics (ENDPOINT_METRICS_PATH)".into(),
            "endpoint-runtime".into(),
        ]);
    }
    #[cfg(feature = "schedule")]
    for job in crate::schedule::schedules() {
        rows.push([
            "CRON".into(),
            format!("{} (UTC)", job.cron()),
            "system (schedule)".into(),
            job.handler(),
            format!("{}  note: job `{}`", job.location(), job.name()),
        ]);
    }
    for (mount, directory) in static_files {
        rows.push([
            "GET".into(),
            format!("{mount}/{{*path}}"),
            "public (static files)".into(),
            format!("files of {}", directory.display()),
            "App::static_files".into(),
        ]);
    }
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

/// The endpoint's traffic policy as the route table shows it: `timeout 2s, body 10485760
/// bytes, concurrency 16, rate 10/minute per user` (`ENDPOINT_RATE_LIMIT`'s rate for an
/// endpoint that states none); `None` without one.
fn policy_note(endpoint: &Endpoint, config: &Config) -> Option<String> {
    let policy = endpoint.policy();
    let mut parts = Vec::new();
    if let Some(timeout) = policy.timeout {
        parts.push(format!("timeout {}", humantime::format_duration(timeout)));
    }
    if let Some(bytes) = policy.body_limit {
        parts.push(format!("body {bytes} bytes"));
    }
    if let Some(n) = policy.concurrency {
        parts.push(format!("concurrency {n}"));
    }
    if let Some(rate) = policy.rate_limit.or(config.rate_limit) {
        // Shared by the instances when the buckets are in Redis.
        let shared = if config.redis.is_some() {
            " (shared)"
        } else {
            ""
        };
        parts.push(format!("rate {rate}{shared}"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Parsed, String> {
        parse("app", args.iter().map(std::ffi::OsString::from))
    }

    fn run(args: &[&str]) -> Command {
        match parse_args(args) {
            Ok(Parsed::Run(command)) => command,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    #[test]
    fn commands_and_their_options() {
        assert_eq!(run(&[]), Command::Serve);
        assert_eq!(run(&["serve"]), Command::Serve);
        assert_eq!(run(&["routes"]), Command::Routes);
        assert_eq!(
            run(&["check"]),
            Command::Check {
                strict: false,
                api: None
            }
        );
        assert_eq!(
            run(&["check", "--strict"]),
            Command::Check {
                strict: true,
                api: None
            }
        );
        #[cfg(feature = "openapi")]
        {
            assert_eq!(
                run(&["check", "--api", "openapi.lock.json"]),
                Command::Check {
                    strict: false,
                    api: Some("openapi.lock.json".into())
                }
            );
            assert_eq!(
                run(&["openapi", "--write=api.json", "--version", "1.4"]),
                Command::Openapi {
                    write: Some("api.json".into()),
                    version: Some("1.4".parse().unwrap()),
                }
            );
            assert_eq!(
                run(&["openapi"]),
                Command::Openapi {
                    write: None,
                    version: None
                }
            );
            assert!(parse_args(&["openapi", "--version", "v2"]).is_err());
        }
    }

    #[cfg(feature = "prerender")]
    #[test]
    fn build_takes_an_output_directory() {
        assert_eq!(run(&["build"]), Command::Build { out: "dist".into() });
        assert_eq!(
            run(&["build", "--out", "site"]),
            Command::Build { out: "site".into() }
        );
        assert_eq!(
            run(&["build", "--out=site"]),
            Command::Build { out: "site".into() }
        );
        assert!(
            parse_args(&["build", "--out"])
                .unwrap_err()
                .contains("--out")
        );
    }

    #[cfg(feature = "jwt")]
    #[test]
    fn token_needs_a_user_and_reads_a_duration() {
        assert_eq!(
            run(&[
                "token", "--user", "ann", "--role", "editor", "--admin", "--ttl", "30m"
            ]),
            Command::Token {
                user: "ann".into(),
                role: Some("editor".into()),
                admin: true,
                ttl: Duration::from_secs(1800),
            }
        );
        assert_eq!(
            run(&["token", "--user=ann"]),
            Command::Token {
                user: "ann".into(),
                role: None,
                admin: false,
                ttl: Duration::from_secs(3600),
            }
        );
        assert!(
            parse_args(&["token"])
                .unwrap_err()
                .contains("--user <USER>")
        );
        let error = parse_args(&["token", "--user", "ann", "--ttl", "soon"]).unwrap_err();
        assert!(
            error.contains("'soon'") && error.contains("--ttl"),
            "{error}"
        );
    }

    #[cfg(feature = "schedule")]
    #[test]
    fn run_job_takes_one_name() {
        assert_eq!(
            run(&["run-job", "audit.prune"]),
            Command::RunJob {
                name: "audit.prune".into()
            }
        );
        assert!(parse_args(&["run-job"]).unwrap_err().contains("<NAME>"));
        let error = parse_args(&["run-job", "a", "b"]).unwrap_err();
        assert!(error.contains("b"), "{error}");
        let Ok(Parsed::Help(help)) = parse_args(&["help", "run-job"]) else {
            panic!("help run-job is help");
        };
        assert!(help.contains("Usage: app run-job <NAME>\n"), "{help}");
    }

    #[test]
    fn what_is_not_understood_is_an_error_naming_it() {
        let error = parse_args(&["serf"]).unwrap_err();
        assert!(
            error.contains("'serf'") && error.contains("serve, routes"),
            "{error}"
        );
        // An option belongs to its command.
        assert!(
            parse_args(&["serve", "--strict"])
                .unwrap_err()
                .contains("--strict")
        );
        assert!(
            parse_args(&["--strict", "check"])
                .unwrap_err()
                .contains("--strict")
        );
        assert!(
            parse_args(&["check", "extra"])
                .unwrap_err()
                .contains("extra")
        );
        assert!(
            parse_args(&["help", "serf"])
                .unwrap_err()
                .contains("'serf'")
        );
    }

    #[test]
    fn help_lists_the_commands_this_build_has() {
        let Ok(Parsed::Help(help)) = parse_args(&["--help"]) else {
            panic!("--help is help");
        };
        assert!(help.contains("Usage: app [COMMAND]"), "{help}");
        for help_line in COMMANDS {
            assert!(help.contains(&format!("  {}", help_line.name)), "{help}");
        }
        assert_eq!(
            help.contains("  openapi "),
            cfg!(feature = "openapi"),
            "{help}"
        );
        assert_eq!(help.contains("  token "), cfg!(feature = "jwt"), "{help}");
        assert_eq!(parse_args(&["-h"]), Ok(Parsed::Help(help.clone())));
        assert_eq!(parse_args(&["help"]), Ok(Parsed::Help(help)));
        let Ok(Parsed::Help(check)) = parse_args(&["check", "--help"]) else {
            panic!("check --help is help");
        };
        assert!(
            check.contains("Usage: app check [OPTIONS]") && check.contains("--strict"),
            "{check}"
        );
        assert_eq!(parse_args(&["help", "check"]), Ok(Parsed::Help(check)));
    }
}
