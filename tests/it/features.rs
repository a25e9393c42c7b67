//! Cargo features: a library user who takes the defaults gets no async runtime, HTTP or TLS
//! stack and no command-line crates (scripts/measure-deps counts what each feature adds).

use std::collections::BTreeSet;
use std::process::Command;

/// What a default build must not contain: the `s3` feature's stack and the `cli` feature's.
const NOT_BY_DEFAULT: [&str; 8] =
    ["tokio", "hyper", "reqwest", "rustls", "ring", "object_store", "clap", "anyhow"];

/// The crate names in larder's normal dependency tree with `args` (offline, from Cargo.lock).
fn tree(args: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "-p", "larder"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo tree {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn default_features_pull_in_no_runtime_http_tls_or_cli_crates() {
    let default = tree(&[]);
    assert!(default.contains("zarrs") && default.contains("ndarray"), "{default:?}");
    let found: Vec<_> = NOT_BY_DEFAULT.iter().filter(|c| default.contains(**c)).collect();
    assert!(found.is_empty(), "default features pull in {found:?}");
    // Each feature brings its own, so the check above looks at the right names.
    let s3 = tree(&["--features", "s3"]);
    for c in ["tokio", "hyper", "reqwest", "rustls", "ring", "object_store"] {
        assert!(s3.contains(c), "feature s3 without {c}");
    }
    let cli = tree(&["--features", "cli"]);
    assert!(cli.contains("clap") && cli.contains("anyhow") && !cli.contains("tokio"), "{cli:?}");
    let hdf5 = tree(&["--features", "hdf5"]);
    assert!(hdf5.contains("hdf5-metno") && !hdf5.contains("tokio"), "{hdf5:?}");
}
