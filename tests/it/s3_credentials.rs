//! No credentials anywhere, against the local S3 server: the error says that credentials are
//! missing and how to give them, not what the instance metadata service answered (a 403 about
//! `/latest/api/token`, a URL the user never gave).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};

use crate::s3::server::Moto;
use crate::support::{larder, python};

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `larder` with nothing from the caller's AWS environment.
fn clean() -> Command {
    let mut c = larder();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c
}

/// An instance metadata service as off an AWS machine behind a proxy: `status` to every
/// request. Its `http://127.0.0.1:PORT`.
fn refusing_service(status: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "<Error>denied</Error>";
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn missing_credentials_against_a_real_server_say_so_plainly() {
    let Some(py) = python() else { return };
    let moto = Moto::start(&py, "larder-creds");
    let dir = tempfile::tempdir().unwrap();
    larder::write_npy(dir.path().join("a.npy"), &ndarray::arr1(&[1.0f64, 2.0]).into_dyn()).unwrap();
    for (status, profile) in [("403 Forbidden", None), ("401 Unauthorized", Some("work"))] {
        let service = refusing_service(status);
        let mut runs = vec![
            vec!["info".to_string(), "s3://larder-creds/a.npy".to_string()],
            vec!["copy".into(), "a.npy".into(), "s3://larder-creds/b.npy".into(), "-q".into()],
        ];
        for args in &mut runs {
            args.extend(["--endpoint".into(), moto.endpoint(), "--retries".into(), "0".into()]);
            let mut c = clean();
            c.current_dir(dir.path()).env("AWS_METADATA_ENDPOINT", &service).args(&*args);
            if let Some(p) = profile {
                c.env("AWS_PROFILE", p);
            }
            let o = c.output().unwrap();
            let t = text(&o);
            assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
            assert!(t.contains("s3://larder-creds/"), "{t}");
            assert!(t.contains("no AWS credentials found"), "{t}");
            assert!(t.contains("AWS_ACCESS_KEY_ID") && t.contains("AWS_SECRET_ACCESS_KEY"), "{t}");
            let said = &status[4..];
            assert!(!t.contains(said) && !t.contains("api/token") && !t.contains("denied"), "{t}");
            assert_eq!(t.contains("AWS_PROFILE"), profile.is_some(), "{t}");
        }
    }
}
