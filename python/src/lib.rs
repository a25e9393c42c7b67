//! `larder._larder`: the compiled half of the Python package. It converts types and nothing
//! else: every operation is larder's public Rust API, called with the GIL released. The
//! Python-facing classes and functions are in `larder/` (pure Python) and build on these.

mod array;
mod cancel;
mod dataset;
mod errors;
mod group;
mod ops;

use pyo3::prelude::*;

#[pymodule]
fn _larder(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<array::RawArray>()?;
    m.add_class::<group::RawGroup>()?;
    m.add_function(wrap_pyfunction!(group::open_group, m)?)?;
    m.add_function(wrap_pyfunction!(array::open_array, m)?)?;
    m.add_function(wrap_pyfunction!(array::materialize, m)?)?;
    m.add_function(wrap_pyfunction!(ops::copy, m)?)?;
    m.add_function(wrap_pyfunction!(ops::convert, m)?)?;
    m.add_function(wrap_pyfunction!(ops::stats, m)?)?;
    m.add_function(wrap_pyfunction!(ops::groupby, m)?)?;
    m.add_function(wrap_pyfunction!(ops::filter, m)?)?;
    m.add_function(wrap_pyfunction!(array::open_column, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::dataset_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::check_strings, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::format_reads_zone, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::arrow_stream, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::arrow_schema, m)?)?;
    Ok(())
}
