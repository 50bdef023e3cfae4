//! `#[endpoint_runtime::main]` installs the log subscriber before the body of `main` runs, so
//! a line an application logs before it builds its `App` (the showcase warns when its
//! upstream port is taken) is written, not dropped for want of a subscriber. A test binary of
//! its own: the subscriber is process-wide.

use endpoint_runtime::tracing::{self, Level};

/// What `main` would see: whether a warning logged now would be written.
#[endpoint_runtime::main]
async fn early_warning_is_recorded() -> bool {
    tracing::enabled!(Level::WARN)
}

#[test]
fn lines_logged_before_the_app_is_built_are_written() {
    assert!(
        !tracing::dispatcher::has_been_set(),
        "nothing installed a subscriber before main"
    );
    assert!(early_warning_is_recorded());
    assert!(tracing::dispatcher::has_been_set());
}
