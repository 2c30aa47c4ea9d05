//! Support code for the workspace's integration tests.
//!
//! The tests themselves are the `[[test]]` targets of this package (files
//! beside this directory); shared machinery lives here so that it is unit
//! tested too.

#![warn(missing_docs)]

pub mod wire;

/// The README's code blocks, compiled and run as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
