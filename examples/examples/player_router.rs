//! The player aggregate in the function-based style (`CommandRouter`), served
//! exactly like the `player` example.
//!
//! ```sh
//! cargo run -p examples --example player_router     # PORT, or 50303
//! ```

fn main() -> std::process::ExitCode {
    examples::server::run(examples::player_router::player_router())
}
