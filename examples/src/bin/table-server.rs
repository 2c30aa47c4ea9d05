//! The `table` example as a binary, so that tests can start it as a child
//! process (cargo tells tests where binaries are, not examples).

fn main() -> std::process::ExitCode {
    examples::server::run(examples::table::Table)
}
