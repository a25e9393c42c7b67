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
mod datetime;
mod display;
mod fuzz;
mod group;
mod hostile;
mod infinities;
mod interop;
mod limits;
mod npy;
mod props;
mod s3;
mod strings;
mod support;
mod timezones;
mod tokens;
