//! Architecture rules, checked from the text of `src/` (std only, no parser), so the layering
//! cannot rot quietly.
//!
//! ADVICE FOR HACKERS: `clean` and `span` are the only code that knows Rust's lexical rules;
//! everything else reads their output, in which comments are spaces and the insides of string
//! and char literals are `_`, every newline kept so that positions keep their line numbers.
//!
//! Edges inside `#[cfg(test)] mod tests` count like any other: a unit test that needs a higher
//! layer belongs in `tests/it/`. `crate::Name` of a `lib.rs` re-export or of a `#[macro_export]`
//! macro is an edge to the module it comes from. `LARDER_BLESS=1 cargo test --test it arch`
//! rewrites the module graph in `docs/architecture.md`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

/// The single source of truth: `LAYERS[n]` is layer n. A module may use only modules of strictly
/// lower layers, so the modules of one layer never use each other, the leaves use only `error`,
/// and every module above them may use the leaves.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["dtype", "select", "grid", "limits"], // leaves
    &["sys", "fsutil", "remote", "expr"],   // `sys`: the only module with `unsafe`
    &["store"],                             // the array traits; never names a backend
    &["npy", "zarr", "hdf5"],               // backends: never name each other nor `open`
    &["open"],                              // the only module that lists the backends
    &["dataset"],                           // the converted-dataset format
    &["zones"],                             // statistics of a dataset's zones, for pruning
    &["query"],                             // row filters evaluated over a dataset
    &["ops", "compute", "convert"],         // operations
];
const UNSAFE_HOME: &str = "sys";
const MAX_LINES: usize = 800;
const BEGIN: &str = "<!-- module-graph:begin -->";
const END: &str = "<!-- module-graph:end -->";

/// Module -> the modules it uses -> where it first does (`src/file.rs:line`).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

struct File {
    rel: String,
    /// The top-level module; `None` for `lib.rs`, `main.rs` and `src/bin/`.
    module: Option<String>,
    /// `main.rs`, `src/bin/`, or a module that only `main.rs` declares.
    bin: bool,
    /// The text after `clean`.
    code: String,
}

struct Tree {
    files: Vec<File>,
    /// The library's top-level modules that have files.
    modules: BTreeSet<String>,
    bin_modules: BTreeSet<String>,
    /// A name `lib.rs` re-exports, or a `#[macro_export]` macro -> its module (`None`: foreign).
    reexports: BTreeMap<String, Option<String>>,
}

impl Tree {
    fn load(root: &Path) -> Tree {
        let src = root.join("src");
        let mut paths = Vec::new();
        walk(&src, &mut paths);
        let mut sources = BTreeMap::new();
        for p in paths {
            let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let rel = p.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            sources.insert(rel, clean(&text));
        }
        let mods = |rel: &str| file_mods(sources.get(rel).map_or(&[][..], |c| c.as_bytes()));
        let bin_modules: BTreeSet<_> =
            mods("main.rs").difference(&mods("lib.rs")).cloned().collect();
        let mut files = Vec::new();
        for (rel, code) in sources {
            let top = rel.split('/').next().unwrap_or_default().trim_end_matches(".rs").to_owned();
            let root_file = rel == "lib.rs" || rel == "main.rs" || rel.starts_with("bin/");
            let bin = (root_file && rel != "lib.rs") || bin_modules.contains(&top);
            let module = (!root_file).then_some(top);
            files.push(File { rel: format!("src/{rel}"), module, bin, code });
        }
        let modules = files.iter().filter(|f| !f.bin).filter_map(|f| f.module.clone()).collect();
        let reexports = reexports(&files, &modules);
        Tree { files, modules, bin_modules, reexports }
    }

    /// Every `crate::` reference as (file, line, top-level module); foreign re-exports dropped.
    fn edges(&self) -> Vec<(&File, usize, String)> {
        let mut edges = Vec::new();
        for f in &self.files {
            for (line, name) in crate_refs(f.code.as_bytes()) {
                let to = match self.reexports.get(&name) {
                    Some(to) if !f.bin && !self.modules.contains(&name) => to.clone(),
                    _ => Some(name),
                };
                edges.extend(to.map(|to| (f, line, to)));
            }
        }
        edges
    }

    /// The library's modules and the edges among them.
    fn graph(&self) -> Graph {
        let mut graph: Graph = self.modules.iter().map(|m| (m.clone(), BTreeMap::new())).collect();
        for (f, line, to) in self.edges() {
            let from = f.module.as_ref().filter(|m| !f.bin && **m != to);
            if let Some(uses) = from.and_then(|m| graph.get_mut(m))
                && self.modules.contains(&to)
            {
                uses.entry(to).or_insert_with(|| format!("{}:{line}", f.rel));
            }
        }
        graph
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn layer_violations(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for m in &tree.modules {
        let file = &tree.files.iter().find(|f| !f.bin && f.module.as_ref() == Some(m)).unwrap().rel;
        if m == "bench" {
            out.push(format!("{file}: `bench` is a library module; it belongs to the binary"));
        } else if layer(m).is_none() {
            out.push(format!("{file}: module `{m}` is not in LAYERS; add it to the table in tests/it/arch.rs in the right layer"));
        }
    }
    for (f, line, to) in tree.edges() {
        let at = format!("{}:{line}", f.rel);
        if f.bin && tree.modules.contains(&to) && !tree.bin_modules.contains(&to) {
            out.push(format!("{at}: `crate::{to}` in the binary; use the library as `larder::…`"));
        }
        let Some(from) = f.module.as_deref().filter(|m| !f.bin && *m != to) else { continue };
        let problem = if to == "bench" || tree.bin_modules.contains(&to) {
            "the library must not use the binary's modules".to_owned()
        } else if !tree.modules.contains(&to) {
            format!("`crate::{to}` is neither a module file in src/ nor a re-export in lib.rs")
        } else if let (Some(a), Some(b)) = (layer(from), layer(&to))
            && b >= a
        {
            format!("`{from}` (layer {a}) may use only lower layers, `{to}` is layer {b}")
        } else {
            continue;
        };
        out.push(format!("{at}: {from} -> {to}: {problem}"));
    }
    out
}

fn cycle_violations(tree: &Tree) -> Vec<String> {
    let graph = tree.graph();
    let mut out = Vec::new();
    for cycle in cycles(&graph) {
        let mut msg = format!("module cycle: {} -> {}", cycle.join(" -> "), cycle[0]);
        for (k, from) in cycle.iter().enumerate() {
            let to = &cycle[(k + 1) % cycle.len()];
            write!(msg, "\n    {}  {from} -> {to}", graph[from][to]).unwrap();
        }
        out.push(msg);
    }
    out
}

/// The shortest cycle through each module, each cycle once, starting at its smallest module.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        let mut parent = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        'search: while let Some(m) = queue.pop_front() {
            for next in graph.get(m).into_iter().flat_map(BTreeMap::keys) {
                if next == start {
                    let mut path = vec![m.clone()];
                    let mut cur = m;
                    while cur != start {
                        cur = parent[cur];
                        path.push(cur.clone());
                    }
                    path.reverse();
                    let smallest = (0..path.len()).min_by_key(|&i| &path[i]).unwrap_or(0);
                    path.rotate_left(smallest);
                    found.insert(path);
                    break 'search;
                }
                if !parent.contains_key(next) {
                    parent.insert(next, m);
                    queue.push_back(next);
                }
            }
        }
    }
    found.into_iter().collect()
}

fn unsafe_violations(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for f in tree.files.iter().filter(|f| f.module.as_deref() != Some(UNSAFE_HOME)) {
        for (line, what) in unsafe_uses(f.code.as_bytes()) {
            out.push(format!("{}:{line}: `unsafe {what}` outside `{UNSAFE_HOME}`", f.rel));
        }
    }
    out
}

fn size_violations(tree: &Tree) -> Vec<String> {
    let sizes = tree.files.iter().map(|f| (&f.rel, non_test_lines(f.code.as_bytes())));
    let over = sizes.filter(|&(_, n)| n > MAX_LINES);
    over.map(|(f, n)| format!("{f}: {n} lines of non-test code (limit {MAX_LINES})")).collect()
}

/// One line per module in layer order, its edges by layer (nearest first), then by name.
fn render_graph(graph: &Graph) -> String {
    let mut modules: Vec<&String> = graph.keys().collect();
    modules.sort_by_key(|m| (layer(m).unwrap_or(usize::MAX), *m));
    let width = modules.iter().map(|m| m.len()).max().unwrap_or(0) + 3;
    let mut out = String::new();
    for m in modules {
        let mut to: Vec<&str> = graph[m].keys().map(String::as_str).collect();
        to.sort_by_key(|t| (Reverse(layer(t).unwrap_or(usize::MAX)), *t));
        let line =
            if to.is_empty() { m.clone() } else { format!("{m:<width$}-> {}", to.join(", ")) };
        writeln!(out, "{line}").unwrap();
    }
    out
}

/// `doc` with `block` fenced between the markers; appended in a new section if they are absent.
fn with_graph(doc: &str, block: &str) -> String {
    let fenced = format!("{BEGIN}\n```text\n{block}```\n");
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{fenced}{}", &doc[..b], &doc[e..]),
        _ => format!("{}\n\n## Module graph\n\n{fenced}{END}\n", doc.trim_end()),
    }
}

/// `None` if `docs/architecture.md` shows the graph of `tree` (after rewriting it, if `bless`).
fn doc_problem(root: &Path, tree: &Tree, bless: bool) -> Option<String> {
    let path = root.join("docs/architecture.md");
    let doc = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let block = render_graph(&tree.graph());
    let updated = with_graph(&doc, &block);
    if updated == doc {
        None
    } else if bless {
        fs::write(&path, updated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        None
    } else {
        Some(format!(
            "docs/architecture.md: the ```text block between `{BEGIN}` and `{END}` is missing or stale; rerun with LARDER_BLESS=1 to rewrite it. Expected:\n{block}"
        ))
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn skip_ws(c: &[u8], i: usize) -> usize {
    i + c.get(i..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_whitespace()).count())
}

fn ident_at(c: &[u8], i: usize) -> Option<&str> {
    let len = c.get(i..)?.iter().take_while(|&&b| is_ident(b)).count();
    let name = std::str::from_utf8(&c[i..i + len]).ok()?;
    (len > 0 && !c[i].is_ascii_digit()).then_some(name)
}

/// Positions where `word` stands as a whole word.
fn words<'a>(c: &'a [u8], word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let (w, n) = (word.as_bytes(), word.len());
    let free = move |i: usize| c.get(i).is_none_or(|&b| !is_ident(b));
    (0..c.len()).filter(move |&i| c[i..].starts_with(w) && (i == 0 || free(i - 1)) && free(i + n))
}

fn find(c: &[u8], from: usize, pat: &[u8]) -> usize {
    (from..c.len()).find(|&j| c[j..].starts_with(pat)).unwrap_or(c.len())
}

fn line_of(c: &[u8], i: usize) -> usize {
    c[..i].split(|&b| b == b'\n').count()
}

/// Comments become spaces, the insides of string and char literals `_`; newlines stay.
fn clean(src: &str) -> String {
    let c = src.as_bytes();
    let mut out = Vec::with_capacity(c.len());
    let mut i = 0;
    while i < c.len() {
        let Some((inside, inside_end, end, fill)) = span(c, i) else {
            out.push(c[i]);
            i += 1;
            continue;
        };
        out.extend_from_slice(&c[i..inside]);
        out.extend(c[inside..inside_end].iter().map(|&b| if b == b'\n' { b } else { fill }));
        out.extend_from_slice(&c[inside_end..end]);
        i = end;
    }
    String::from_utf8(out).expect("multi-byte characters are kept whole or replaced whole")
}

/// A comment or literal starting at `i`: (start of its inside, end of its inside, end, fill).
fn span(c: &[u8], i: usize) -> Option<(usize, usize, usize, u8)> {
    let free = |k: usize| k == 0 || !is_ident(c[k - 1]);
    let closed = |j: usize, n: usize| (j + n).min(c.len());
    match &c[i..] {
        [b'/', b'/', ..] => Some((i, find(c, i, b"\n"), find(c, i, b"\n"), b' ')),
        [b'/', b'*', ..] => {
            let (mut depth, mut j) = (0, i);
            while j < c.len() {
                match &c[j..] {
                    [b'/', b'*', ..] => (depth, j) = (depth + 1, j + 2),
                    [b'*', b'/', ..] => (depth, j) = (depth - 1, j + 2),
                    _ => j += 1,
                }
                if depth == 0 {
                    break;
                }
            }
            Some((i, j, j, b' '))
        }
        [b'r', b'#' | b'"', ..] if free(i) || (matches!(c[i - 1], b'b' | b'c') && free(i - 1)) => {
            let hashes = c[i + 1..].iter().take_while(|&&b| b == b'#').count();
            let close = [&b"\""[..], &b"#".repeat(hashes)].concat();
            let (open, shut) = (i + hashes + 2, find(c, i + hashes + 2, &close));
            let literal = (open, shut, closed(shut, hashes + 1), b'_');
            (c.get(open - 1) == Some(&b'"')).then_some(literal)
        }
        [b'"', ..] => {
            let mut j = i + 1;
            while j < c.len() && c[j] != b'"' {
                j += if c[j] == b'\\' { 2 } else { 1 };
            }
            Some((i + 1, j.min(c.len()), closed(j, 1), b'_'))
        }
        [b'\'', b'\\', ..] => Some((i + 1, find(c, i + 3, b"'"), find(c, i + 3, b"'") + 1, b'_')),
        // 'x' is a char literal, 'x without a closing quote a lifetime or a label.
        [b'\'', lead, ..] => {
            let n = (lead.leading_ones() as usize).max(1); // the UTF-8 length of the char
            (c.get(i + 1 + n) == Some(&b'\'')).then_some((i + 1, i + 1 + n, i + 2 + n, b'_'))
        }
        _ => None,
    }
}

/// Every `crate::NAME` in cleaned code as (line, NAME); a `crate::{…}` group gives its heads.
fn crate_refs(c: &[u8]) -> Vec<(usize, String)> {
    let mut refs = Vec::new();
    for p in words(c, "crate") {
        let j = skip_ws(c, p + 5);
        if !c[j..].starts_with(b"::") {
            continue;
        }
        let j = skip_ws(c, j + 2);
        if c.get(j) == Some(&b'{') {
            group_heads(c, j, &mut refs);
        } else if let Some(name) = ident_at(c, j) {
            refs.push((line_of(c, j), name.to_owned()));
        }
    }
    refs
}

/// Pushes the first segment of each item of the group that opens at `open`.
fn group_heads(c: &[u8], open: usize, out: &mut Vec<(usize, String)>) {
    let mut depth = 0;
    for i in open..c.len() {
        match c[i] {
            b'{' => depth += 1,
            b'}' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            return;
        }
        if depth == 1 && matches!(c[i], b'{' | b',') {
            let j = skip_ws(c, i + 1);
            if let Some(name) = ident_at(c, j).filter(|n| !matches!(*n, "self" | "super")) {
                out.push((line_of(c, j), name.to_owned()));
            }
        }
    }
}

/// The `mod NAME;` declarations (file modules) of a crate root.
fn file_mods(c: &[u8]) -> BTreeSet<String> {
    let declared = |p: usize| {
        let name = ident_at(c, skip_ws(c, p + 3))?;
        let after = skip_ws(c, skip_ws(c, p + 3) + name.len());
        (c.get(after) == Some(&b';')).then(|| name.to_owned())
    };
    words(c, "mod").filter_map(declared).collect()
}

/// The names `lib.rs` re-exports (the leaves of its `use` trees) and the `#[macro_export]`
/// macros, each mapped to the module it comes from, `None` for another crate's.
fn reexports(files: &[File], modules: &BTreeSet<String>) -> BTreeMap<String, Option<String>> {
    let mut map = BTreeMap::new();
    let lib = files.iter().find(|f| f.rel == "src/lib.rs").map_or(&[][..], |f| f.code.as_bytes());
    for p in words(lib, "use") {
        let stmt = &lib[p + 3..find(lib, p, b";")];
        let (mut k, mut target) = (0, None);
        while k < stmt.len() {
            let Some(name) = ident_at(stmt, k) else {
                k += 1;
                continue;
            };
            k += name.len();
            if name == "crate" {
                continue;
            }
            let target = target.get_or_insert_with(|| modules.get(name).cloned());
            let next = stmt.get(skip_ws(stmt, k));
            if matches!(next, None | Some(b',' | b'}')) && name != "self" {
                map.insert(name.to_owned(), target.clone());
            }
        }
    }
    for f in files.iter().filter(|f| !f.bin && f.module.is_some()) {
        let c = f.code.as_bytes();
        for p in words(c, "macro_export") {
            let Some(q) = words(c, "macro_rules").find(|&q| q > p) else { continue };
            if let Some(name) = ident_at(c, skip_ws(c, q + "macro_rules!".len())) {
                map.insert(name.to_owned(), f.module.clone());
            }
        }
    }
    map
}

/// (line, what follows `unsafe`) for each `unsafe` block, fn, impl, extern or trait.
fn unsafe_uses(c: &[u8]) -> Vec<(usize, String)> {
    let what = |p: usize| {
        let j = skip_ws(c, p + "unsafe".len());
        let next = if c.get(j) == Some(&b'{') { "{" } else { ident_at(c, j)? };
        let item = matches!(next, "{" | "fn" | "impl" | "extern" | "trait");
        item.then(|| (line_of(c, p), next.to_owned()))
    };
    words(c, "unsafe").filter_map(what).collect()
}

/// Non-blank lines of cleaned code before a trailing `#[cfg(test)] mod NAME { … }`.
fn non_test_lines(c: &[u8]) -> usize {
    let trailing_mod = |p: usize| {
        let i = skip_ws(c, p + "#[cfg(test)]".len());
        let j = skip_ws(c, i + 3);
        let name = ident_at(c, j).filter(|_| ident_at(c, i) == Some("mod"));
        let open = name.map_or(c.len(), |n| skip_ws(c, j + n.len()));
        if c.get(open) != Some(&b'{') {
            return false;
        }
        let mut depth = 0;
        for (k, &b) in c.iter().enumerate().skip(open) {
            match b {
                b'{' => depth += 1,
                b'}' if depth == 1 => return c[k + 1..].iter().all(u8::is_ascii_whitespace),
                b'}' => depth -= 1,
                _ => {}
            }
        }
        false
    };
    let cut = (0..c.len()).find(|&p| c[p..].starts_with(b"#[cfg(test)]") && trailing_mod(p));
    let code = &c[..cut.unwrap_or(c.len())];
    code.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count()
}

fn assert_none(rule: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{rule}: {} problem(s)\n{}", problems.len(), problems.join("\n"));
}

fn repo() -> Tree {
    Tree::load(Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn module_dependencies_follow_the_layers() {
    assert_none("layers (LAYERS in tests/it/arch.rs)", &layer_violations(&repo()));
}

#[test]
fn no_module_cycles() {
    assert_none("module cycles", &cycle_violations(&repo()));
}

#[test]
fn unsafe_code_lives_only_in_sys() {
    assert_none("unsafe outside sys", &unsafe_violations(&repo()));
}

#[test]
fn no_source_file_exceeds_800_lines() {
    assert_none("file size: split these by concept", &size_violations(&repo()));
}

#[test]
fn architecture_doc_shows_the_real_module_graph() {
    let bless = env::var("LARDER_BLESS").is_ok_and(|v| v == "1");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_none("module graph", &Vec::from_iter(doc_problem(root, &repo(), bless)));
}

mod scanner_tests {
    use super::*;

    fn names(code: &str) -> Vec<String> {
        crate_refs(clean(code).as_bytes()).into_iter().map(|(_, n)| n).collect()
    }

    #[test]
    fn comments_and_strings_are_skipped() {
        let code = "// crate::a\n/// crate::b\n//! crate::c\n/* crate::d /* crate::e */ crate::f */\nlet s = \"crate::g \\\" crate::h\";\ncrate::real::x();";
        assert_eq!(crate_refs(clean(code).as_bytes()), [(6, "real".to_owned())]);
    }

    #[test]
    fn use_groups_yield_each_head_and_inline_paths_are_found() {
        let code = "use crate::{a::b, c, d::{e, f::g}, self};\nuse crate :: h;";
        assert_eq!(names(code), ["a", "c", "d", "h"]);
        assert_eq!(
            names("let z = crate::zarr::ZarrArray::open(p)?; $crate::store::x!()"),
            ["zarr", "store"]
        );
    }

    #[test]
    fn pub_crate_is_not_an_edge() {
        assert!(names("pub(crate) fn f() {} pub(crate) use x::y; use crate as root;").is_empty());
    }

    #[test]
    fn raw_strings_and_char_literals_do_not_confuse_it() {
        let code = r##"let s = r#"crate::a " crate::b"#; let q = '"'; let e = b'\''; let k = '\\';
            fn f<'a>(x: &'a str) -> &'a str { 'outer: loop { crate::c::g(x) } }
            let t = br"crate::d"; let u = c"crate::e"; let v = ('é', '\u{1F600}'); crate::h::i();"##;
        assert_eq!(names(code), ["c", "h"]);
        assert_eq!(clean(code).lines().count(), 3);
    }

    #[test]
    fn unsafe_is_found_outside_comments_strings_and_attributes() {
        let code = "#![deny(unsafe_code)]\n#[allow(unsafe_code)]\n// unsafe { x }\nlet s = \"unsafe fn\";\nunsafe impl Send for X {}\nlet y = unsafe { *p };";
        assert_eq!(
            unsafe_uses(clean(code).as_bytes()),
            [(5, "impl".to_owned()), (6, "{".to_owned())]
        );
    }

    #[test]
    fn a_trailing_test_module_and_blank_and_comment_lines_do_not_count() {
        let code = "fn a() {}\n\n// note\nfn b() { let c = '}'; }\n/* x\n y */\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() {}\n}\n";
        assert_eq!(non_test_lines(clean(code).as_bytes()), 2);
        assert_eq!(non_test_lines(b"#[cfg(test)]\nmod tests {}\nfn after() {}\n"), 3);
    }

    #[test]
    fn a_cycle_is_detected_in_a_hand_made_graph() {
        let mut graph = Graph::new();
        for (from, to) in [("b", "c"), ("c", "a"), ("a", "b"), ("c", "d"), ("d", "e")] {
            graph.entry(from.into()).or_default().insert(to.into(), String::new());
        }
        assert_eq!(cycles(&graph), [["a", "b", "c"]]);
        graph.get_mut("c").unwrap().remove("a");
        assert!(cycles(&graph).is_empty());
    }

    fn fake_tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = env::temp_dir().join(format!("larder-arch-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for (path, text) in files {
            fs::create_dir_all(dir.join(path).parent().unwrap()).unwrap();
            fs::write(dir.join(path), text).unwrap();
        }
        dir
    }

    const GOOD: &[(&str, &str)] = &[
        (
            "src/lib.rs",
            "mod error;\npub mod dtype;\nmod sys;\npub mod store;\npub mod npy;\nmod open;\npub use error::{Error, Result as R};\npub use half::f16;\n",
        ),
        ("src/main.rs", "mod bench;\nuse larder::npy;\nfn main() { crate::bench::run(); }\n"),
        ("src/bench.rs", "use larder::store::Store;\n"),
        ("src/error.rs", "pub enum Error {}\n"),
        ("src/dtype.rs", "use crate::Error; // crate::store\n"),
        ("src/sys.rs", "use crate::{dtype, error::Error};\npub unsafe fn map() {}\n"),
        (
            "src/store.rs",
            "use crate::{R, f16};\n#[macro_export]\nmacro_rules! dispatch { () => { $crate::store::x() } }\n",
        ),
        ("src/npy.rs", "mod header;\nuse crate::store::Store;\n"),
        ("src/npy/header.rs", "use super::*; use crate::dispatch; use crate::sys::map;\n"),
        ("src/open.rs", "pub(crate) fn open() { crate::npy::open(); let s = \"crate::open\"; }\n"),
        ("docs/architecture.md", "# Architecture\n"),
    ];

    #[test]
    fn a_fake_tree_that_follows_the_rules_passes_and_its_doc_is_blessed() {
        let dir = fake_tree("good", GOOD);
        let tree = Tree::load(&dir);
        assert_eq!(tree.bin_modules, BTreeSet::from(["bench".to_owned()]));
        for problems in [layer_violations, cycle_violations, unsafe_violations, size_violations] {
            assert_none("fake tree", &problems(&tree));
        }
        assert!(
            doc_problem(&dir, &tree, false).is_some_and(|p| p.contains("npy     -> store, sys"))
        );
        assert!(
            doc_problem(&dir, &tree, true).is_none() && doc_problem(&dir, &tree, false).is_none()
        );
        let doc = fs::read_to_string(dir.join("docs/architecture.md")).unwrap();
        let graph = "error\ndtype   -> error\nsys     -> dtype, error\nstore   -> error\nnpy     -> store, sys\nopen    -> npy\n";
        assert!(doc.contains(&format!("{BEGIN}\n```text\n{graph}```\n{END}")), "{doc}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_fake_tree_that_breaks_the_rules_fails_naming_file_line_and_edge() {
        let long = "fn f() {}\n".repeat(801);
        let mut files = GOOD.to_vec();
        files.extend([
            ("src/store/mem.rs", "\nuse crate::{error, npy::Npy};\nfn f() { unsafe { g() } }\n"),
            ("src/main.rs", "mod bench;\nuse crate::store::Store;\n"),
            ("src/extra.rs", &long),
        ]);
        let dir = fake_tree("bad", &files);
        let tree = Tree::load(&dir);
        assert_eq!(
            layer_violations(&tree),
            [
                "src/extra.rs: module `extra` is not in LAYERS; add it to the table in tests/it/arch.rs in the right layer",
                "src/main.rs:2: `crate::store` in the binary; use the library as `larder::…`",
                "src/store/mem.rs:2: store -> npy: `store` (layer 3) may use only lower layers, `npy` is layer 4",
            ]
        );
        assert_eq!(
            cycle_violations(&tree),
            [
                "module cycle: npy -> store -> npy\n    src/npy.rs:2  npy -> store\n    src/store/mem.rs:2  store -> npy"
            ]
        );
        assert_eq!(unsafe_violations(&tree), ["src/store/mem.rs:3: `unsafe {` outside `sys`"]);
        assert_eq!(
            size_violations(&tree),
            ["src/extra.rs: 801 lines of non-test code (limit 800)"]
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
