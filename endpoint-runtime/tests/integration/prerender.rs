//! `prerender` and the `build` command: files equal to the live answers, binary bodies kept,
//! and failed builds that leave nothing behind.

use std::path::Path;

use endpoint_runtime::axum::response::Html;
use endpoint_runtime::prelude::*;
use endpoint_runtime::{App, Config, Endpoint, Error, endpoints};

use crate::support::{client, start_with, test_config};

// ----- what a build writes ----------------------------------------------------------------

#[endpoint(id = "pre", route = "/notes.txt", prerender)]
async fn notes() -> &'static str {
    "plain text\n"
}

#[endpoint(id = "pre", route = "/page", prerender)]
async fn page() -> Html<&'static str> {
    Html("<h1>A page</h1>")
}

/// Every byte value, so anything that treats the body as text would change it.
#[endpoint(id = "pre", route = "/blob.bin", prerender)]
async fn blob() -> Vec<u8> {
    (0..=255u8).rev().collect()
}

struct ItemPath {
    id: u32,
}

fn item_ids() -> Vec<ItemPath> {
    vec![ItemPath { id: 1 }, ItemPath { id: 22 }]
}

#[endpoint(id = "pre", route = "/items/{id}", prerender, static_paths = item_ids)]
async fn item(id: u32, ctx: Context) -> Json<Value> {
    Json(json!({ "id": id, "site": ctx.server_url() }))
}

struct DocPath {
    rest: String,
}

async fn doc_paths() -> Vec<DocPath> {
    vec![
        DocPath {
            rest: "guide/intro.md".into(),
        },
        DocPath {
            rest: "with space ü.md".into(),
        },
    ]
}

#[endpoint(id = "pre", route = "/docs/{*rest}", prerender, static_paths = doc_paths)]
async fn doc(rest: String) -> String {
    format!("doc {rest}")
}

// ----- what fails a build -----------------------------------------------------------------

#[endpoint(id = "prefail", route = "/missing.json", prerender)]
async fn missing() -> Result<Json<Value>, EndpointError> {
    Err(EndpointError::not_found("nothing here"))
}

#[endpoint(id = "predup", route = "/a", prerender)]
async fn dup_page() -> Html<&'static str> {
    Html("<p>a</p>")
}

#[endpoint(id = "predup", route = "/a/index.html", prerender)]
async fn dup_file() -> Html<&'static str> {
    Html("<p>a, again</p>")
}

struct NamePath {
    name: String,
}

fn escaping() -> Vec<NamePath> {
    vec![
        NamePath { name: "ok".into() },
        NamePath { name: "..".into() },
    ]
}

#[endpoint(id = "preesc", route = "/{name}", prerender, static_paths = escaping)]
async fn escape(name: String) -> String {
    name
}

// ----- helpers ----------------------------------------------------------------------------

/// A fresh, empty directory, removed when dropped.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("endpoint-prerender-")
        .tempdir()
        .unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn group(id: &str) -> Vec<&'static Endpoint> {
    endpoints().into_iter().filter(|e| e.id() == id).collect()
}

fn site_config() -> Config {
    let mut config = test_config();
    config.site = Some("https://example.com".into());
    // So that the live server reports the same base URL as the build.
    config.server_url = Some("https://example.com".into());
    config
}

async fn build(id: &str, out: &Path) -> Result<endpoint_runtime::prerender::Report, Error> {
    App::new()
        .config(site_config())
        .prerender_endpoints(out, group(id), &mut |_| {})
        .await
}

// ----- tests ------------------------------------------------------------------------------

#[tokio::test]
async fn build_writes_what_serve_answers_byte_for_byte() {
    let scratch = scratch();
    let root = scratch.path().to_path_buf();
    let out = root.join("dist");
    let mut announced = Vec::new();
    let report = App::new()
        .config(site_config())
        .prerender_endpoints(&out, group("pre"), &mut |file| {
            announced.push(file.file.clone())
        })
        .await
        .expect("the build succeeds");

    let mut files: Vec<String> = report
        .files
        .iter()
        .map(|f| f.file.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "pre/blob.bin",
            "pre/docs/guide/intro.md",
            "pre/docs/with space ü.md",
            "pre/items/1",
            "pre/items/22",
            "pre/notes.txt",
            "pre/page/index.html",
        ]
    );
    assert_eq!(announced.len(), files.len(), "progress for every file");
    let manifest = std::fs::read_to_string(out.join(".prerendered")).unwrap();
    assert_eq!(manifest.lines().collect::<Vec<_>>(), files);
    assert_eq!(
        entries(&root),
        ["dist"],
        "no temporary directory is left behind"
    );

    // Every file equals the live answer for the same URL.
    let server = start_with(site_config()).await;
    for file in &report.files {
        let written = std::fs::read(out.join(&file.file)).unwrap();
        assert_eq!(written.len(), file.bytes);
        let live = client().get(server.url(&file.url)).send().await.unwrap();
        assert!(live.status().is_success(), "GET {}", file.url);
        let live = live.bytes().await.unwrap();
        assert_eq!(
            written,
            live.as_ref(),
            "{} differs from GET {}",
            file.file.display(),
            file.url
        );
    }
    let blob = std::fs::read(out.join("pre/blob.bin")).unwrap();
    assert_eq!(
        blob,
        (0..=255u8).rev().collect::<Vec<_>>(),
        "binary body unchanged"
    );
    let item: Value =
        serde_json::from_slice(&std::fs::read(out.join("pre/items/22")).unwrap()).unwrap();
    assert_eq!(item, json!({ "id": 22, "site": "https://example.com" }));
    let encoded = report
        .files
        .iter()
        .find(|f| f.url.contains("with"))
        .unwrap();
    assert_eq!(encoded.url, "/pre/docs/with%20space%20%C3%BC.md");

    // A second build replaces the first with identical bytes.
    let first: Vec<Vec<u8>> = report
        .files
        .iter()
        .map(|f| std::fs::read(out.join(&f.file)).unwrap())
        .collect();
    let again = build("pre", &out).await.expect("the second build succeeds");
    let second: Vec<Vec<u8>> = again
        .files
        .iter()
        .map(|f| std::fs::read(out.join(&f.file)).unwrap())
        .collect();
    assert_eq!(first, second);
    assert_eq!(entries(&root), ["dist"]);
}

/// Builds the group `id` into a fresh directory, expects the build to fail, checks that
/// nothing was left behind, and returns the message.
async fn failed_build(id: &str) -> String {
    let scratch = scratch();
    let root = scratch.path().to_path_buf();
    let error = build(id, &root.join("dist"))
        .await
        .expect_err("the build fails");
    assert!(
        entries(&root).is_empty(),
        "nothing left: {:?}",
        entries(&root)
    );
    error.to_string()
}

#[tokio::test]
async fn a_non_2xx_answer_fails_the_build_and_writes_nothing() {
    let message = failed_build("prefail").await;
    assert!(message.contains("missing"), "names the handler: {message}");
    assert!(
        message.contains("prerender.rs"),
        "names the source: {message}"
    );
    assert!(message.contains("404"), "gives the status: {message}");
}

#[tokio::test]
async fn two_urls_writing_one_file_fail_the_build() {
    let message = failed_build("predup").await;
    assert!(
        message.contains("dup_page") && message.contains("dup_file"),
        "names both endpoints: {message}"
    );
    assert!(message.contains("predup/a/index.html"), "{message}");
}

#[tokio::test]
async fn a_value_escaping_the_output_directory_fails_the_build() {
    let message = failed_build("preesc").await;
    assert!(message.contains("escape"), "{message}");
    assert!(message.contains("\"..\""), "shows the value: {message}");
}

#[tokio::test]
async fn a_failed_build_keeps_the_previous_output_and_foreign_directories_are_refused() {
    let scratch = scratch();
    let root = scratch.path().to_path_buf();
    let out = root.join("dist");
    build("pre", &out).await.expect("first build");
    let before = entries(&out.join("pre"));
    build("prefail", &out)
        .await
        .expect_err("second build fails");
    assert_eq!(
        entries(&out.join("pre")),
        before,
        "the previous output is intact"
    );
    assert_eq!(entries(&root), ["dist"]);

    let foreign = root.join("mine");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "mine").unwrap();
    let error = build("pre", &foreign)
        .await
        .expect_err("not a build's output");
    assert!(
        error.to_string().contains("was not written by a build"),
        "{error}"
    );
    assert_eq!(entries(&foreign), ["keep.txt"]);
}
