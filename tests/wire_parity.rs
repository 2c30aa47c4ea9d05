//! Our `.proto` files compile to exactly the descriptors of the Angzarr
//! coordinator's schema (`shared/wire/*.fds.bin`), field by field.

use std::fs;
use std::path::Path;

use prost::Message;
use prost_types::FileDescriptorSet;
use tests::wire::{differences, files_of, listing, listing_of_files, reference_dir, render};

/// Compares each of our files of `package` with the reference's file of the
/// same name (the reference holds more files than we ship); a file the
/// reference does not have is a problem too.
fn compare_files(dir: &Path, reference_name: &str, ours: &[u8], package: &str) -> Vec<String> {
    let fds_path = dir.join(format!("{reference_name}.fds.bin"));
    let reference_bytes = fs::read(&fds_path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", fds_path.display()));
    let reference = FileDescriptorSet::decode(reference_bytes.as_slice())
        .unwrap_or_else(|err| panic!("{} is not a FileDescriptorSet: {err}", fds_path.display()));
    let ours = FileDescriptorSet::decode(ours).expect("our descriptor set decodes");
    let our_files = files_of(&ours, package);
    let reference_files = files_of(&reference, package);
    let mut report: Vec<String> = our_files
        .iter()
        .filter(|file| !reference_files.contains(file))
        .map(|file| format!("{reference_name}: unexpected file {file}"))
        .collect();
    let names: Vec<&str> = our_files.iter().map(String::as_str).collect();
    report.extend(
        differences(
            &listing_of_files(&reference, &names),
            &listing_of_files(&ours, &names),
        )
        .into_iter()
        .map(|line| format!("{reference_name}: {line}")),
    );
    report
}

/// Compares one package; returns the report lines of every problem found.
fn compare(dir: &Path, reference_name: &str, ours: &[u8], package: &str) -> Vec<String> {
    let fds_path = dir.join(format!("{reference_name}.fds.bin"));
    let txt_path = dir.join(format!("{reference_name}.txt"));
    let reference_bytes = fs::read(&fds_path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", fds_path.display()));
    let reference = FileDescriptorSet::decode(reference_bytes.as_slice())
        .unwrap_or_else(|err| panic!("{} is not a FileDescriptorSet: {err}", fds_path.display()));
    let ours = FileDescriptorSet::decode(ours).expect("our descriptor set decodes");

    // Our files the reference lists in this package: `examples-player` holds
    // two of the `examples` files we ship.
    let reference_files = files_of(&reference, package);
    let names: Vec<&str> = reference_files.iter().map(String::as_str).collect();
    let reference = listing(&reference, &[package]);
    let mut report: Vec<String> = differences(&reference, &listing_of_files(&ours, &names))
        .into_iter()
        .map(|line| format!("{package}: {line}"))
        .collect();

    // The listing must read exactly like the reference text, or the comparison
    // above would be comparing the wrong things.
    if let Ok(text) = fs::read_to_string(&txt_path) {
        let expected: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
        let rendered = render(&reference);
        if rendered != expected {
            report.push(format!(
                "{package}: the listing of {} does not reproduce {} ({} lines vs {}); first difference: {:?}",
                fds_path.display(),
                txt_path.display(),
                rendered.len(),
                expected.len(),
                rendered.iter().zip(&expected).find(|(a, b)| a != b),
            ));
        }
    }
    report
}

#[test]
fn protos_match_the_coordinator_wire_schema() {
    let dir = reference_dir();
    if !dir.join("angzarr.fds.bin").is_file() {
        let required = std::env::var_os("ANGZARR_WIRE_REQUIRED").is_some_and(|v| v == "1");
        let message = format!(
            "wire reference not found in {}: the parity check did not run \
             (set ANGZARR_WIRE_DIR to the directory holding angzarr.fds.bin)",
            dir.display()
        );
        assert!(
            !required,
            "{message}, and ANGZARR_WIRE_REQUIRED=1 demands it"
        );
        eprintln!("{message}");
        return;
    }

    let mut report = compare(
        &dir,
        "angzarr",
        angzarr_proto::FILE_DESCRIPTOR_SET,
        "angzarr",
    );
    report.extend(compare(
        &dir,
        "examples-player",
        examples::FILE_DESCRIPTOR_SET,
        "examples",
    ));
    report.extend(compare_files(
        &dir,
        "examples-poker",
        examples::FILE_DESCRIPTOR_SET,
        "examples",
    ));
    assert!(
        report.is_empty(),
        "our .proto files differ from the coordinator's schema in {} place(s):\n{}",
        report.len(),
        report.join("\n")
    );
}
