//! Compile-fail tests of the macros live in `tests/`; this crate has no code of its own.
