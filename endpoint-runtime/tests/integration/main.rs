//! Integration tests: real requests over HTTP against a server on 127.0.0.1 with an ephemeral
//! port. One binary, one registry: every endpoint below is served by every test's server.

mod access;
mod auth;
mod body_limit;
mod client;
mod cluster_events;
mod cors_compression;
mod database;
mod endpoints;
mod envelope;
mod group_middleware;
mod health;
mod layers;
mod metrics;
mod multipart;
mod openapi;
mod policy;
mod prerender;
mod routing;
mod server;
mod shared_limits;
mod sse;
mod static_files;
mod support;
mod validation;

// The library crate's endpoints are collected only because it is named here.
endpoint_runtime::link!(extra_endpoints);
