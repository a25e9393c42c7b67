//! Deterministic CSV generator for the `larder convert` benchmarks.
//!
//! ```text
//! cargo run --release --example gen_csv -- narrow 10000000 > narrow.csv   # machine,duration
//! cargo run --release --example gen_csv -- wide 10000000 > wide.csv       # 6 columns
//! ```
//!
//! `narrow` rows are `machine,duration` (about 9.9 bytes a row); `wide` rows are
//! `timestamp,machine,region,status,duration,bytes` (about 44 bytes a row; `region` is one of
//! eight strings, meant to be converted as a categorical). The output depends only on the
//! arguments (fixed seed), and is written in a stream, so files of any size can be made.

use std::io::{self, BufWriter, Write};

/// splitmix64: small, fast and good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }
}

fn int(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// `whole.frac` with exactly `digits` fraction digits.
fn fixed(out: &mut Vec<u8>, whole: u64, frac: u64, digits: u32) {
    int(out, whole);
    out.push(b'.');
    let s = frac.to_string();
    for _ in s.len()..digits as usize {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

const REGIONS: [&str; 8] = [
    "eu-west",
    "eu-central",
    "us-east",
    "us-west",
    "ap-south",
    "ap-northeast",
    "sa-east",
    "af-south",
];
const STATUS: [u64; 6] = [200, 200, 200, 201, 404, 500];

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, rows] = args.as_slice() else {
        eprintln!("usage: gen_csv (narrow|wide) ROWS > out.csv");
        std::process::exit(2);
    };
    let (kind, rows) = (kind.as_str(), rows.parse::<u64>().map_err(io::Error::other)?);
    let mut rng = Rng(0x1a2d_e2c5_0f00_d5ee);
    let stdout = io::stdout();
    let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut line = Vec::with_capacity(128);
    match kind {
        "narrow" => w.write_all(b"machine,duration\n")?,
        "wide" => w.write_all(b"timestamp,machine,region,status,duration,bytes\n")?,
        _ => {
            eprintln!("unknown kind {kind:?}: expected narrow or wide");
            std::process::exit(2);
        }
    }
    for i in 0..rows {
        line.clear();
        if kind == "wide" {
            int(&mut line, 1_700_000_000 + i / 16);
            line.push(b',');
        }
        line.push(b'm');
        int(&mut line, rng.below(100));
        line.push(b',');
        if kind == "wide" {
            line.extend_from_slice(REGIONS[rng.index(REGIONS.len())].as_bytes());
            line.push(b',');
            int(&mut line, STATUS[rng.index(STATUS.len())]);
            line.push(b',');
            fixed(&mut line, rng.below(10), rng.below(10_000), 4);
            line.push(b',');
            int(&mut line, rng.below(100_000_000));
        } else {
            fixed(&mut line, rng.below(10), rng.below(1000), 3);
        }
        line.push(b'\n');
        w.write_all(&line)?;
    }
    w.flush()
}
