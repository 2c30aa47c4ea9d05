//! The wire parity check: compares two `FileDescriptorSet`s the way Angzarr's
//! reference listing (`shared/wire/*.txt`) describes them, one line per field,
//! enum value and RPC.
//!
//! Only what travels on the wire or names a route counts: packages, message and
//! field names, numbers, types, labels, oneof membership, map key and value
//! types, enum values, services, RPC paths and streaming. Comments, options and
//! file layout are free.

use std::collections::BTreeMap;
use std::env;
use std::path::PathBuf;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};

/// The schema as entries: a key naming one element (`message .angzarr.Cover #2`)
/// and its description (`domain: optional string`).
pub type Listing = BTreeMap<String, String>;

/// Lists every message field, enum value and RPC declared in `packages`.
pub fn listing(set: &FileDescriptorSet, packages: &[&str]) -> Listing {
    listing_where(set, |file| packages.contains(&file.package()))
}

/// Lists every message field, enum value and RPC declared in the files
/// named `files` (e.g. `examples/table.proto`).
pub fn listing_of_files(set: &FileDescriptorSet, files: &[&str]) -> Listing {
    listing_where(set, |file| files.contains(&file.name()))
}

/// The names of the files of `package` in `set`.
pub fn files_of(set: &FileDescriptorSet, package: &str) -> Vec<String> {
    set.file
        .iter()
        .filter(|file| file.package() == package)
        .map(|file| file.name().to_owned())
        .collect()
}

fn listing_where(
    set: &FileDescriptorSet,
    keep: impl Fn(&prost_types::FileDescriptorProto) -> bool,
) -> Listing {
    let mut entries = Listing::new();
    for file in set.file.iter().filter(|file| keep(file)) {
        let prefix = format!(".{}", file.package());
        for message in &file.message_type {
            list_message(&mut entries, &prefix, message);
        }
        for enumeration in &file.enum_type {
            for value in &enumeration.value {
                entries.insert(
                    format!("enum {prefix}.{} {}", enumeration.name(), value.name()),
                    format!("= {}", value.number()),
                );
            }
        }
        for service in &file.service {
            for method in &service.method {
                let stream = |on: bool| if on { "stream " } else { "" };
                entries.insert(
                    format!(
                        "rpc /{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ),
                    format!(
                        "({}{}) returns ({}{})",
                        stream(method.client_streaming()),
                        method.input_type(),
                        stream(method.server_streaming()),
                        method.output_type()
                    ),
                );
            }
        }
    }
    entries
}

fn list_message(entries: &mut Listing, scope: &str, message: &DescriptorProto) {
    let name = format!("{scope}.{}", message.name());
    if message.field.is_empty() {
        entries.insert(format!("message {name}"), "(no fields)".to_owned());
    }
    for field in &message.field {
        entries.insert(
            format!("message {name} #{}", field.number()),
            describe_field(message, field),
        );
    }
    for nested in &message.nested_type {
        if !is_map_entry(nested) {
            list_message(entries, &name, nested);
        }
    }
    for enumeration in &message.enum_type {
        for value in &enumeration.value {
            entries.insert(
                format!("enum {name}.{} {}", enumeration.name(), value.name()),
                format!("= {}", value.number()),
            );
        }
    }
}

fn describe_field(message: &DescriptorProto, field: &FieldDescriptorProto) -> String {
    let mut text = format!("{}: ", field.name());
    match map_entry_of(message, field) {
        Some(entry) => {
            let key = entry.field.iter().find(|f| f.number() == 1);
            let value = entry.field.iter().find(|f| f.number() == 2);
            let (Some(key), Some(value)) = (key, value) else {
                return format!("{text}malformed map entry");
            };
            text.push_str(&format!("map<{},{}>", type_of(key), type_of(value)));
        }
        None => {
            let label = match field.label() {
                Label::Repeated => "repeated",
                Label::Required => "required",
                Label::Optional => "optional",
            };
            text.push_str(&format!("{label} {}", type_of(field)));
        }
    }
    if field.proto3_optional() {
        text.push_str(" proto3_optional");
    } else if let Some(index) = field.oneof_index {
        let oneof = usize::try_from(index)
            .ok()
            .and_then(|index| message.oneof_decl.get(index))
            .map_or("?", |oneof| oneof.name());
        text.push_str(&format!(" oneof={oneof}"));
    }
    text
}

fn map_entry_of<'a>(
    message: &'a DescriptorProto,
    field: &FieldDescriptorProto,
) -> Option<&'a DescriptorProto> {
    if field.label() != Label::Repeated || field.r#type() != Type::Message {
        return None;
    }
    let entry_name = field.type_name().rsplit('.').next()?;
    message
        .nested_type
        .iter()
        .find(|nested| nested.name() == entry_name && is_map_entry(nested))
}

fn is_map_entry(message: &DescriptorProto) -> bool {
    message
        .options
        .as_ref()
        .is_some_and(|options| options.map_entry())
}

fn type_of(field: &FieldDescriptorProto) -> String {
    match field.r#type() {
        Type::Message => format!("message {}", field.type_name()),
        Type::Enum => format!("enum {}", field.type_name()),
        Type::Group => format!("group {}", field.type_name()),
        Type::Double => "double".into(),
        Type::Float => "float".into(),
        Type::Int64 => "int64".into(),
        Type::Uint64 => "uint64".into(),
        Type::Int32 => "int32".into(),
        Type::Fixed64 => "fixed64".into(),
        Type::Fixed32 => "fixed32".into(),
        Type::Bool => "bool".into(),
        Type::String => "string".into(),
        Type::Bytes => "bytes".into(),
        Type::Uint32 => "uint32".into(),
        Type::Sfixed32 => "sfixed32".into(),
        Type::Sfixed64 => "sfixed64".into(),
        Type::Sint32 => "sint32".into(),
        Type::Sint64 => "sint64".into(),
    }
}

/// The listing as the reference `.txt` files write it: one sorted line per entry.
pub fn render(listing: &Listing) -> Vec<String> {
    let mut lines: Vec<String> = listing
        .iter()
        .map(|(key, value)| format!("{key} {value}"))
        .collect();
    lines.sort();
    lines
}

/// Every difference between the reference and ours, one per line; empty
/// when they agree.
pub fn differences(reference: &Listing, ours: &Listing) -> Vec<String> {
    let mut found = Vec::new();
    for (key, expected) in reference {
        match ours.get(key) {
            None => found.push(format!("missing:    {key} {expected}")),
            Some(actual) if actual != expected => found.push(format!(
                "different:  {key}: reference has `{expected}`, ours has `{actual}`"
            )),
            Some(_) => {}
        }
    }
    for (key, actual) in ours {
        if !reference.contains_key(key) {
            found.push(format!("unexpected: {key} {actual}"));
        }
    }
    found
}

/// Where the reference schema lives: `$ANGZARR_WIRE_DIR`, else `shared/wire`
/// beside the repository (where CI puts it).
pub fn reference_dir() -> PathBuf {
    match env::var_os("ANGZARR_WIRE_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/wire"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn ours() -> FileDescriptorSet {
        FileDescriptorSet::decode(angzarr_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    fn field_mut<'a>(
        set: &'a mut FileDescriptorSet,
        message: &str,
        field: &str,
    ) -> &'a mut FieldDescriptorProto {
        set.file
            .iter_mut()
            .flat_map(|file| file.message_type.iter_mut())
            .find(|m| m.name() == message)
            .and_then(|m| m.field.iter_mut().find(|f| f.name() == field))
            .unwrap()
    }

    #[test]
    fn lists_fields_maps_oneofs_and_rpcs_in_the_reference_format() {
        let lines = render(&listing(&ours(), &["angzarr"]));
        for expected in [
            "message .angzarr.Cover #2 domain: optional string",
            "message .angzarr.Notification #4 metadata: map<string,string>",
            "message .angzarr.Query #3 range: optional message .angzarr.SequenceRange oneof=selection",
            "message .angzarr.SequenceRange #2 upper: optional uint32 proto3_optional",
            "message .angzarr.GetDescriptorRequest (no fields)",
            "enum .angzarr.MergeStrategy MERGE_COMMUTATIVE = 0",
            "rpc /angzarr.EventQueryService/Synchronize (stream .angzarr.Query) returns (stream .angzarr.EventBook)",
        ] {
            assert!(lines.iter().any(|line| line == expected), "missing {expected:?}");
        }
        assert!(
            !lines.iter().any(|line| line.contains("Entry")),
            "map entries are not messages"
        );
        assert!(!lines
            .iter()
            .any(|line| line.contains("google.protobuf.Any #")));
    }

    #[test]
    fn a_changed_field_number_is_reported() {
        let reference = listing(&ours(), &["angzarr"]);
        let mut changed = ours();
        field_mut(&mut changed, "Cover", "domain").number = Some(9);
        assert_eq!(
            differences(&reference, &listing(&changed, &["angzarr"])),
            [
                "missing:    message .angzarr.Cover #2 domain: optional string",
                "unexpected: message .angzarr.Cover #9 domain: optional string",
            ]
        );
    }

    #[test]
    fn changed_types_labels_oneofs_and_streaming_are_reported() {
        let reference = listing(&ours(), &["angzarr"]);
        let mut changed = ours();
        field_mut(&mut changed, "Cover", "domain").r#type = Some(Type::Bytes as i32);
        field_mut(&mut changed, "SequenceSet", "values").label = Some(Label::Optional as i32);
        field_mut(&mut changed, "Query", "range").oneof_index = None;
        let synchronize = changed
            .file
            .iter_mut()
            .flat_map(|file| file.service.iter_mut())
            .flat_map(|service| service.method.iter_mut())
            .find(|method| method.name() == "Synchronize")
            .unwrap();
        synchronize.client_streaming = Some(false);
        let found = differences(&reference, &listing(&changed, &["angzarr"]));
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found.iter().all(|line| line.starts_with("different:  ")));
        assert!(found[0].contains(
            "Cover #2: reference has `domain: optional string`, ours has `domain: optional bytes`"
        ));
    }

    #[test]
    fn identical_sets_have_no_differences() {
        let listed = listing(&ours(), &["angzarr"]);
        assert!(differences(&listed, &listed).is_empty());
    }
}
