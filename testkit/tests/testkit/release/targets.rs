//! What stands at `INSTALL_DIR/<tool>` before an install: a directory, or a
//! symbolic link to one, is refused and named (mv would put the tool inside
//! it); a symbolic link to a file is replaced, never written through.

use super::*;

#[test]
fn a_directory_or_a_link_to_one_at_a_tool_path_is_refused_naming_it() {
    let server = Server::serve(dist());
    for shell in SHELLS {
        for linked in [false, true] {
            let node = Node::new();
            let target = node.path("install").join("ca-check");
            let elsewhere = node.path("elsewhere");
            fs::create_dir(&elsewhere).unwrap();
            if linked {
                symlink(&elsewhere, &target).unwrap();
            } else {
                fs::create_dir(&target).unwrap();
            }
            assert_refused(
                &mut node.install(shell, &server.url),
                &format!(
                    "{} is a directory or a symbolic link to one",
                    target.display()
                ),
            );
            assert_eq!(node.installed(), ["ca-check"], "nothing installed");
            assert_eq!(entries(&elsewhere), Vec::<String>::new(), "nothing inside");
            assert_eq!(entries(&target), Vec::<String>::new(), "nothing inside");
            node.assert_tmp_empty();
        }
    }
}

#[test]
fn a_link_to_a_file_at_a_tool_path_is_replaced_not_written_through() {
    let server = Server::serve(dist());
    for shell in SHELLS {
        let node = Node::new();
        let old = node.path("old-ca-check");
        fs::write(&old, "the file the link points to\n").unwrap();
        let target = node.path("install").join("ca-check");
        symlink(&old, &target).unwrap();
        let (_, stderr) = succeeds(&mut node.install(shell, &server.url));
        assert!(
            stderr.contains(&format!(
                "{} was a symbolic link: the link is replaced by the tool, the file it pointed to is left as it was",
                target.display()
            )),
            "{stderr}"
        );
        assert!(
            fs::symlink_metadata(&target).unwrap().is_file(),
            "a file now"
        );
        assert_eq!(
            fs::read_to_string(&old).unwrap(),
            "the file the link points to\n"
        );
        assert!(ok(Command::new(&target).arg("--version")).starts_with("ca-check "));
        node.assert_tmp_empty();
    }
}
