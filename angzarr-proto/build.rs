//! Compiles the Angzarr `.proto` files with `protox` (a pure-Rust protobuf
//! compiler), so building needs nothing but cargo: no `protoc` on the machine.

use std::{env, fs, io, path::PathBuf};

const PROTO_FILES: &[&str] = &[
    "angzarr/types.proto",
    "angzarr/command_handler.proto",
    "angzarr/query.proto",
    "angzarr/saga.proto",
    "angzarr/projector.proto",
    "angzarr/process_manager.proto",
    "angzarr/upcaster.proto",
    "angzarr/stream.proto",
    "angzarr/meta.proto",
    "angzarr/cloudevents.proto",
];

fn main() -> io::Result<()> {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=proto");

    let descriptors = protox::compile(PROTO_FILES, ["proto"]).map_err(io::Error::other)?;
    // Kept with source comments: served by gRPC reflection and compared by the
    // wire parity test.
    fs::write(
        out_dir.join("angzarr_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;

    let mut config = prost_build::Config::new();
    config
        .enable_type_names()
        .type_name_domain(["."], "type.googleapis.com");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .compile_fds_with_config(descriptors, config)
}
