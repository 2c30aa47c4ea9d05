/// The encoded `google.protobuf.FileDescriptorSet` of package `angzarr`,
/// including its imports and source comments.
///
/// Serve it through gRPC reflection, or decode it to inspect the schema:
///
/// ```
/// use prost::Message;
///
/// let set = prost_types::FileDescriptorSet::decode(angzarr_proto::FILE_DESCRIPTOR_SET).unwrap();
/// assert!(set.file.iter().any(|file| file.name() == "angzarr/types.proto"));
/// ```
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/angzarr_descriptor.bin"));
