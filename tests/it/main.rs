//! Integration tests: one binary, one module per area.

// Tests build arrays from loop counters and compare exact values on purpose.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    clippy::float_cmp
)]

mod api;
mod append;
mod arch;
#[cfg(feature = "arrow")]
mod arrow;
mod bools;
mod cancel;
mod cat_fill;
mod cat_stream;
mod cat_wrap;
mod chunk_cap;
mod chunked;
mod cli;
mod column_kinds;
mod columns;
mod compute;
mod convert;
mod cow;
mod csvrules;
mod datetime;
mod destinations;
mod display;
mod documented_errors;
mod features;
mod filter;
mod fuzz;
mod group;
mod group_nodes;
mod groupstats;
#[cfg(feature = "hdf5")]
mod hdf5_cf_times;
mod hdf5_staging;
mod help;
mod hierarchy;
mod hostile;
mod infinities;
mod interop;
mod interrupt;
mod interrupt_convert;
mod interrupt_many;
mod limits;
mod memory;
mod messages;
mod names;
mod npy;
mod npy_size;
mod once;
mod props;
mod record_widths;
mod remote_compute;
mod resume;
mod s3;
#[cfg(feature = "s3")]
mod s3_credentials;
#[cfg(feature = "s3")]
mod s3_group_resume;
mod s3_memory;
#[cfg(feature = "s3")]
mod s3_requests;
mod signal_repeat;
mod sort;
mod sorted_index;
mod strings;
mod subset;
mod support;
mod timedelta;
mod timezones;
mod tokens;
mod views;
mod where_compute;
mod wide;
mod xarray_groups;
mod zones;
