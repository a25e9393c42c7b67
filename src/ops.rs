//! Whole-array operations of the command line, each on any format through the store API:
//! [`copy`] between formats, [`info`] from metadata, [`cat`] as numpy prints, and a dataset's
//! rows as a [`table`].

pub mod cat;
pub mod copy;
pub mod group;
#[cfg(feature = "s3")]
mod identity;
pub mod info;
pub mod sort;
pub mod subset;
pub mod table;
#[cfg(feature = "s3")]
mod upload;
