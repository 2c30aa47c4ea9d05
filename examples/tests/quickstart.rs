//! The README's first command, `cargo run -p examples --example quickstart`,
//! keeps working: the same `main`, run as a test.

#[path = "../examples/quickstart.rs"]
mod quickstart;

#[test]
fn the_quickstart_runs_end_to_end() {
    quickstart::main().expect("the quickstart succeeds");
}
