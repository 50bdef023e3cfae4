//! A binary with no endpoints of its own. `extra-endpoints` is a dev-dependency of this
//! package, but this file never names it, so the linker drops it and its endpoints with it:
//! the pitfall `link!` exists for. Start-up must say so loudly and still serve (404s).

use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_unlinked_library_leaves_an_empty_registry_and_a_warning() {
    assert!(
        endpoint_runtime::endpoints().is_empty(),
        "nothing names extra_endpoints here"
    );

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let mut config = endpoint_runtime::Config::default();
    config.port = 0;
    let server = endpoint_runtime::App::new()
        .config(config)
        .bind()
        .await
        .expect("an empty registry still starts");
    drop(guard);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("no endpoints are registered"), "{logs}");
    assert!(
        logs.contains("endpoint_runtime::link!(that_crate);"),
        "{logs}"
    );
    // The header and the runtime's own health routes: no endpoint.
    let table = server.route_table();
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(
        table.lines().skip(1).all(|l| l.contains("(runtime)")),
        "{table}"
    );
}

/// A test client over no endpoint is an error that says how to link them, not a client whose
/// every route is 404 (the pitfall of an integration test of a binary crate).
#[tokio::test]
async fn a_test_client_without_endpoints_says_how_to_link_them() {
    let error = endpoint_runtime::testing::TestClient::new()
        .await
        .expect_err("no endpoints");
    assert!(
        matches!(error, endpoint_runtime::Error::NoEndpoints),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("endpoint_runtime::link!"), "{message}");
    assert!(message.contains("src/lib.rs"), "{message}");
}
