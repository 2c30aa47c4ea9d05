//! Compiles the example domain's `.proto` files (package `examples`) without protoc.

use std::{env, fs, io, path::PathBuf};

fn main() -> io::Result<()> {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=proto");

    let descriptors = protox::compile(
        [
            "examples/poker_types.proto",
            "examples/player.proto",
            "examples/table.proto",
            "examples/orchestration.proto",
            "examples/buy_in.proto",
            "examples/v1/player.proto",
        ],
        ["proto"],
    )
    .map_err(io::Error::other)?;
    fs::write(
        out_dir.join("examples_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;

    prost_build::Config::new()
        .enable_type_names()
        .type_name_domain(["."], "type.googleapis.com")
        .compile_fds(descriptors)
}
