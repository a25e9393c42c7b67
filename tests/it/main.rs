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
mod bools;
mod cat_stream;
mod chunk_cap;
mod chunked;
mod cli;
mod compute;
mod convert;
mod cow;
mod csvrules;
mod datetime;
mod destinations;
mod display;
mod fuzz;
mod group;
mod group_nodes;
mod groupstats;
mod help;
mod hierarchy;
mod hostile;
mod infinities;
mod interop;
mod interrupt;
mod limits;
mod memory;
mod messages;
mod names;
mod npy;
mod npy_size;
mod once;
mod props;
mod resume;
mod s3;
mod strings;
mod support;
mod timedelta;
mod timezones;
mod tokens;
mod wide;
