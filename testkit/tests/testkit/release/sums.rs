//! SHA256SUMS is read strictly: one well-formed line per file. Each changed
//! SHA256SUMS here is signed again with the test key, so the signature passes
//! where it is checked and the lines themselves are judged, under dash (which
//! verifies the signature) and busybox ash (integrity only).

use super::*;

/// dist/ served from a copy whose SHA256SUMS is `edit`ed and signed again.
fn serve_with_sums(node: &Node, edit: &dyn Fn(&str) -> String) -> Server {
    let served = node.path("served");
    copy_dist(&served, &[]);
    let sums = served.join("SHA256SUMS");
    let text = fs::read_to_string(&sums).unwrap();
    fs::write(&sums, edit(&text)).unwrap();
    sign(&served, NAMESPACE);
    Server::serve(&served)
}

fn assert_refused_everywhere(edit: &dyn Fn(&str) -> String, problem: &str) {
    for shell in SHELLS {
        let node = Node::new();
        let server = serve_with_sums(&node, edit);
        assert_refused(&mut node.install(shell, &server.url), problem);
        assert_eq!(
            node.installed(),
            Vec::<String>::new(),
            "{shell:?}: INSTALL_DIR"
        );
        node.assert_tmp_empty();
    }
}

#[test]
fn two_lines_for_one_file_are_refused() {
    // The old installer took the first line silently; here the second differs.
    let tarball = tarball_name();
    let append = |text: &str| format!("{text}{}  {tarball}\n", "0".repeat(64));
    assert_refused_everywhere(&append, &format!("lists {tarball} twice (again on line 3)"));
}

#[test]
fn malformed_lines_are_refused_naming_the_line() {
    let tarball = tarball_name();
    // What is wrong, the line it is on, the change.
    type Edit<'a> = &'a dyn Fn(&str) -> String;
    let malformed: [(&str, usize, Edit); 7] = [
        ("an upper-case checksum", 1, &|t| t.to_uppercase()),
        ("a line that is no checksum", 3, &|t| {
            format!("{t}{tarball}\n")
        }),
        ("CRLF line ends", 1, &|t| t.replace('\n', "\r\n")),
        ("one space after the checksum", 1, &|t| {
            t.replacen("  ", " ", 1)
        }),
        ("a name with a directory", 3, &|t| {
            format!("{t}{}  ../{tarball}\n", "1".repeat(64))
        }),
        ("an empty line", 1, &|t| format!("\n{t}")),
        ("a checksum one digit short", 1, &|t| t[1..].to_owned()),
    ];
    for (what, line, edit) in malformed {
        eprintln!("{what}");
        assert_refused_everywhere(edit, &format!("line {line} of http://127.0.0.1:"));
    }
}

#[test]
fn an_oversized_sha256sums_is_refused_before_it_is_read() {
    let pad = |text: &str| {
        let mut text = text.to_owned();
        for i in 0..300 {
            text.push_str(&format!("{}  padding-{i}\n", "2".repeat(64)));
        }
        text
    };
    assert_refused_everywhere(&pad, "more than the 16384 a list of release files needs");
}
