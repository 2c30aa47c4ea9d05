//! Every compile error the aggregate macros emit, as a trybuild snapshot:
//! the message and the tokens it points at.

#[test]
fn macro_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
