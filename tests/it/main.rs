//! Integration tests: one binary, one module per area.

// Tests build arrays from loop counters and compare exact values on purpose.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::float_cmp
)]

mod append;
mod arch;
mod chunked;
mod cli;
mod compute;
mod convert;
mod cow;
mod csvrules;
mod datetime;
mod fuzz;
mod group;
mod hostile;
mod interop;
mod limits;
mod npy;
mod props;
mod s3;
mod strings;
mod support;
