//! UI tests: the diagnostics of `#[endpoint]` and `#[endpoint_runtime::main]`.

/// Gated to the compiler that produced the `.stderr` snapshots: another compiler words some
/// diagnostics differently, so it skips instead of failing.
#[rustversion::attr(not(stable(1.95)), ignore)]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/*/fail/*.rs");
    t.pass("tests/*/pass/*.rs");
}
