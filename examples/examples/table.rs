//! The table aggregate as a gRPC server, ready to sit behind an Angzarr
//! coordinator (the real one, or angzarr-local).
//!
//! ```sh
//! cargo run -p examples --example table             # PORT, or 50303
//! cargo run -p examples --example table -- 127.0.0.1:7001
//! TRANSPORT_TYPE=uds cargo run -p examples --example table
//! ```
//!
//! SIGINT or SIGTERM shuts it down gracefully (exit status 0).

fn main() -> std::process::ExitCode {
    examples::server::run(examples::table::Table)
}
