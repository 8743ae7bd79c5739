//! The direction of the library, kept by a test: every module lives in one
//! layer folder and imports only from its own layer or the layers before it
//! in [`LAYERS`]. Paths are read from the code itself (comments and string
//! literals left out): `crate::<layer>`, `crate::{...}` groups, and `super::`
//! chains that climb to the crate root.

use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom up.
const LAYERS: [&str; 7] = ["pki", "layout", "store", "checks", "runs", "report", "cli"];

/// Files at the crate root that belong to no layer.
const ROOT_FILES: [&str; 2] = ["lib.rs", "layers.rs"];

/// One import that breaks the direction.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    file: String,
    path: String,
    why: String,
}

/// The layer of each source file under `src`, and its module path.
fn modules(src: &Path) -> Vec<(PathBuf, Vec<String>)> {
    let mut found = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src).unwrap();
                let mut module: Vec<String> = relative
                    .with_extension("")
                    .iter()
                    .map(|part| part.to_string_lossy().into_owned())
                    .collect();
                if module.last().is_some_and(|m| m == "mod") {
                    module.pop();
                }
                found.push((relative.to_path_buf(), module));
            }
        }
    }
    found.sort();
    found
}

/// `text` without comments, string and character literals (each replaced by
/// a space), so that only code is searched for paths.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"...", r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push(' ');
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' && (chars.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            // A character literal ('x', '\n', '\u{..}'); a lifetime has no closing quote.
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(' ');
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// The identifier starting at byte `at` of `code`.
fn ident_at(code: &str, at: usize) -> &str {
    let rest = &code[at..];
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The first segment of each path a `crate::{...}` group starting at byte
/// `at` (just after the `{`) names.
fn group_heads(code: &str, at: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    for (offset, c) in code[at..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expecting = true,
            c if depth == 0 && expecting && (c.is_alphanumeric() || c == '_') => {
                heads.push(ident_at(code, at + offset).to_string());
                expecting = false;
            }
            _ => {}
        }
    }
    heads
}

/// How many inline modules (`mod x { ... }`) enclose byte `at` of `code`.
fn inline_depth(code: &str, at: usize) -> usize {
    let mut depth = 0;
    for (start, _) in code.match_indices("mod ") {
        if start > 0 && code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let after = start + "mod ".len();
        let name = ident_at(code, after);
        let rest = code[after + name.len()..].trim_start();
        if name.is_empty() || !rest.starts_with('{') || start > at {
            continue;
        }
        let open = code.len() - rest.len();
        let mut level = 0;
        let mut close = code.len();
        for (offset, c) in code[open..].char_indices() {
            match c {
                '{' => level += 1,
                '}' => {
                    level -= 1;
                    if level == 0 {
                        close = open + offset;
                        break;
                    }
                }
                _ => {}
            }
        }
        if open < at && at < close {
            depth += 1;
        }
    }
    depth
}

/// Every layer `code` (of the module at `module`) imports from, with the
/// path as written.
fn imported_layers(code: &str, module: &[String]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let after = at + "crate::".len();
        if code[after..].starts_with('{') {
            for head in group_heads(code, after + 1) {
                found.push((head.clone(), format!("crate::{{{head}..}}")));
            }
        } else {
            let head = ident_at(code, after);
            // An exported macro lives at the crate root whatever defines it.
            if code[after + head.len()..].starts_with('!') {
                continue;
            }
            found.push((head.to_string(), format!("crate::{head}")));
        }
    }
    for (at, _) in code.match_indices("super::") {
        if at > 0 && code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut climbs = 0;
        let mut rest = &code[at..];
        while let Some(tail) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = tail;
        }
        // `super` from a file's module lands on its parent, from an inline
        // `mod x { }` on the file's module; at the crate root the next
        // segment names a layer.
        if climbs >= module.len() + inline_depth(code, at) {
            let head = ident_at(rest, 0);
            found.push((head.to_string(), "super::".repeat(climbs) + head));
        }
    }
    found
}

/// The imports of the file `file` (module path `module`) that break the direction.
fn violations(file: &str, module: &[String], text: &str) -> Vec<Violation> {
    let violation = |path: String, why: String| Violation {
        file: file.to_string(),
        path,
        why,
    };
    let Some(own) = module
        .first()
        .and_then(|layer| LAYERS.iter().position(|l| l == layer))
    else {
        return vec![violation(
            String::new(),
            format!("lies in no layer folder ({})", LAYERS.join(", ")),
        )];
    };
    let mut found = Vec::new();
    for (head, path) in imported_layers(&code_only(text), module) {
        match LAYERS.iter().position(|l| *l == head) {
            Some(target) if target > own => found.push(violation(
                path,
                format!("{} imports from {}, a layer above it", LAYERS[own], head),
            )),
            Some(_) => {}
            None => found.push(violation(
                path,
                format!("imports `{head}`, which is no layer: name the layer first"),
            )),
        }
    }
    found
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut checked = 0;
    for (relative, module) in modules(&src) {
        let name = relative.to_string_lossy().into_owned();
        if ROOT_FILES.contains(&name.as_str()) {
            continue;
        }
        let text = fs::read_to_string(src.join(&relative)).unwrap();
        found.extend(violations(&name, &module, &text));
        checked += 1;
    }
    assert!(checked > 40, "only {checked} modules found under {src:?}");
    let lines: Vec<String> = found
        .iter()
        .map(|v| format!("{}: `{}`: {}", v.file, v.path, v.why))
        .collect();
    assert!(lines.is_empty(), "\n{}", lines.join("\n"));
}

/// The error type is what every module builds on: it imports nothing of the
/// crate, so that no module is pulled in with it (the CSR reader once was).
#[test]
fn the_error_module_imports_nothing_of_the_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for (relative, module) in modules(&src) {
        if !module.starts_with(&["pki".to_string(), "error".to_string()]) {
            continue;
        }
        let text = fs::read_to_string(src.join(&relative)).unwrap();
        let imported = imported_layers(&code_only(&text), &module);
        assert!(imported.is_empty(), "{}: {imported:?}", relative.display());
        checked += 1;
    }
    assert!(checked > 0, "no pki/error module under {src:?}");
}

#[test]
fn lib_declares_exactly_the_layers() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let code = code_only(&lib);
    let declared: Vec<&str> = code
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches(';'))
        .collect();
    assert_eq!(declared, LAYERS, "lib.rs must declare the layers, in order");
}

/// The check itself: each kind of upward or unlayered import is caught, and
/// what only looks like one (a comment, a string, a sibling) is not.
#[test]
fn upward_imports_are_caught_in_every_spelling() {
    let module = |path: &str| path.split('/').map(String::from).collect::<Vec<_>>();
    let cert = module("pki/cert");
    let flagged = |text: &str| violations("pki/cert.rs", &cert, text);
    assert_eq!(
        flagged("use crate::runs::custom_ca::plan_custom_ca;\n")[0].why,
        "pki imports from runs, a layer above it"
    );
    assert_eq!(flagged("use crate::{pki::pem, layout::DataDir};").len(), 1);
    assert_eq!(
        flagged("fn f() { crate::store::plan::Plan::new(); }").len(),
        1
    );
    assert_eq!(flagged("use super::super::checks::finding;").len(), 1);
    assert_eq!(flagged("use crate::error::Error;").len(), 1, "unlayered");
    assert!(flagged("mod tests { use super::*; }").is_empty());
    assert!(
        violations(
            "layout/mod.rs",
            &module("layout"),
            "mod tests { use super::*; }"
        )
        .is_empty()
    );
    let keys = module("pki/keys/sign");
    assert_eq!(
        violations(
            "pki/keys/sign.rs",
            &keys,
            "use super::super::super::runs::x;"
        )
        .len(),
        1
    );
    for innocent in [
        "// use crate::runs::x;\n",
        "/// see [`crate::runs`]\n",
        "/* crate::runs */",
        "const S: &str = \"crate::runs\";",
        "const R: &str = r#\"crate::runs\"#;",
        "use super::pem::PemFile;",
        "use crate::pki::pem::PemFile;",
        "crate::tool_args! { groups(data_dir); struct A {} }",
        "fn f<'a>(x: &'a str) -> char { 'c' } use crate::pki::cert;",
    ] {
        assert!(flagged(innocent).is_empty(), "{innocent}");
    }
    assert_eq!(
        violations("pki/stray.rs", &module("stray"), "").len(),
        1,
        "a file outside the layer folders"
    );
}
