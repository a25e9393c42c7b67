//! `--help` text: a command's own options come first, the global object-storage flags after
//! them under a heading of their own.

use crate::support::larder;

/// The `--help` text of `args` (a subcommand path, or nothing for the top level).
fn help(args: &[&str]) -> String {
    let o = larder().args(args).arg("--help").output().unwrap();
    assert!(o.status.success(), "{args:?} --help: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The lines of the section of `text` headed `heading` (up to the next heading).
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "no {heading:?} section in:\n{text}");
    lines.take_while(|l| l.is_empty() || l.starts_with(' ')).collect()
}

const STORAGE: &str = "Object storage (s3:// locations):";
const GLOBAL_FLAGS: [&str; 7] = [
    "--endpoint",
    "--retries",
    "--retry-timeout",
    "--backoff ",
    "--backoff-max",
    "--request-timeout",
    "--concurrency",
];

#[test]
fn help_puts_object_storage_flags_under_their_own_heading_after_the_commands_options() {
    for cmd in [&["convert"][..], &["stats"], &["cat"], &["groupby"], &["copy"], &[]] {
        let text = help(cmd);
        let storage = section(&text, STORAGE).join("\n");
        let options = section(&text, "Options:").join("\n");
        for flag in GLOBAL_FLAGS {
            assert!(storage.contains(flag), "{cmd:?}: {flag} not under {STORAGE:?}:\n{text}");
            assert!(!options.contains(flag), "{cmd:?}: {flag} among the options:\n{text}");
        }
        let (own, global) = (text.find("Options:").unwrap(), text.find(STORAGE).unwrap());
        assert!(own < global, "{cmd:?}: the command's options come first:\n{text}");
        assert!(options.contains("--help"), "{cmd:?}: --help stays among the options");
    }
}

#[test]
fn help_keeps_each_commands_own_options_under_options() {
    for (cmd, own) in [
        ("convert", &["--type", "--max-categories", "--append"][..]),
        ("groupby", &["--by", "--agg"]),
        ("cat", &["--json", "--slice"]),
    ] {
        let text = help(&[cmd]);
        let options = section(&text, "Options:").join("\n");
        let storage = section(&text, STORAGE).join("\n");
        for flag in own {
            assert!(options.contains(flag), "{cmd}: {flag} not under Options:\n{text}");
            assert!(!storage.contains(flag), "{cmd}: {flag} under {STORAGE:?}:\n{text}");
        }
    }
}
