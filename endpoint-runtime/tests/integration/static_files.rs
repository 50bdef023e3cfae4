//! `App::static_files`: a folder served through the pipeline with tower-http's `ServeDir`.

use endpoint_runtime::{App, Error};
use serde_json::Value;

use crate::support::{client, start_app, test_config};

#[tokio::test]
async fn a_folder_is_served_with_ranges_conditional_requests_and_precompressed_files() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("public");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("hello.txt"), "hello world").unwrap();
    std::fs::write(folder.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(folder.join("app.js.gz"), b"\x1f\x8bprecompressed").unwrap();
    // Beside the folder, not in it.
    std::fs::write(root.path().join("secret.txt"), "do not serve").unwrap();
    let server = start_app(
        App::new()
            .config(test_config())
            .static_files("/assets", &folder),
    )
    .await;

    let response = client()
        .get(server.url("/assets/hello.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let modified = response.headers()["last-modified"].clone();
    assert_eq!(response.text().await.unwrap(), "hello world");

    let response = client()
        .get(server.url("/assets/hello.txt"))
        .header("range", "bytes=0-4")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.text().await.unwrap(), "hello");

    let response = client()
        .get(server.url("/assets/hello.txt"))
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);

    let response = client()
        .get(server.url("/assets/app.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        b"\x1f\x8bprecompressed"
    );
    let response = client()
        .get(server.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert!(!response.headers().contains_key("content-encoding"));
    assert_eq!(response.text().await.unwrap(), "console.log(1)");

    // A missing file, and paths that leave the folder: the envelope's 404, never the file.
    for path in ["/assets/missing.txt", "/assets/..%2fsecret.txt"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "fail", "{path}: {body}");
        assert_eq!(body["data"]["code"], "NOT_FOUND", "{path}: {body}");
    }
    // Written on the socket as is (an HTTP client would resolve the `..` itself).
    for target in ["/assets/../secret.txt", "/assets/%2e%2e/secret.txt"] {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        socket
            .write_all(
                format!("GET {target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{target}: {answer}");
        assert!(!answer.contains("do not serve"), "{target}: {answer}");
    }
}

#[tokio::test]
async fn a_bad_mount_or_folder_stops_start_up() {
    let folder = tempfile::tempdir().unwrap();
    for (mount, directory, expected) in [
        ("assets", folder.path().to_path_buf(), "not a mount path"),
        ("/assets/", folder.path().to_path_buf(), "not a mount path"),
        ("/assets", folder.path().join("nope"), "is not a directory"),
    ] {
        let error = App::new()
            .config(test_config())
            .static_files(mount, directory)
            .bind()
            .await
            .map(|server| server.local_addr())
            .expect_err("refused");
        assert!(
            matches!(&error, Error::StaticFiles(message) if message.contains(expected)),
            "{mount}: {error}"
        );
    }
    // Over an endpoint of this test binary.
    let error = App::new()
        .config(test_config())
        .static_files("/auth", folder.path())
        .bind()
        .await
        .map(|server| server.local_addr())
        .expect_err("refused");
    assert!(
        matches!(&error, Error::Conflicts(conflicts)
            if conflicts.iter().all(|c| c.second == "App::static_files")),
        "{error}"
    );
}

/// The route table lists each mount with its folder, beside the endpoints, and the metrics
/// path with its access level.
#[tokio::test]
async fn the_route_table_lists_the_mounts() {
    let folder = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.metrics_path = Some("/metrics".into());
    let server = App::new()
        .config(config)
        .static_files("/assets", folder.path())
        .bind()
        .await
        .unwrap();
    let table = server.route_table();
    let mount = table
        .lines()
        .find(|line| line.contains("/assets/{*path}"))
        .unwrap_or_else(|| panic!("no mount in:\n{table}"));
    assert!(mount.starts_with("GET"), "{mount}");
    assert!(mount.contains("public (static files)"), "{mount}");
    assert!(
        mount.contains(&format!("files of {}", folder.path().display())),
        "{mount}"
    );
    let metrics = table
        .lines()
        .find(|line| line.contains(" /metrics "))
        .unwrap_or_else(|| panic!("no metrics path in:\n{table}"));
    assert!(metrics.contains("admin (runtime)"), "{metrics}");
}
