//! A mirror: docs/install.md's sequence run as written (URLs and the port
//! replaced), then nodes install from the mirror's install.sh with no
//! K3S_PKI_URL, the release's server gone.

use super::*;

/// The code block of docs/install.md that makes a mirror.
fn mirror_block() -> String {
    let doc = fs::read_to_string(workspace_root().join("docs/install.md")).unwrap();
    doc.split("```")
        .skip(1)
        .step_by(2)
        .find(|block| block.contains("install.sh mirror"))
        .expect("a mirror block in docs/install.md")
        .to_owned()
}

fn doc_line<'a>(block: &'a str, needle: &str) -> &'a str {
    block
        .lines()
        .find(|l| l.contains(needle) && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("no `{needle}` line in docs/install.md's mirror block"))
}

/// The mirror the docs name, replaced by the test's.
const DOC_MIRROR: &str = "http://mirror.example:8000";

#[test]
fn the_documented_mirror_serves_nodes_without_k3s_pki_url() {
    let block = mirror_block();
    let node = Node::new();
    let cwd = node.path("ops");
    fs::create_dir(&cwd).unwrap();
    // What the mirror host serves: ops/ here, so the mirror is ops/k3s-pki-mirror.
    let mirror_server = Server::serve(&cwd);
    let mirror = format!("{}/k3s-pki-mirror", mirror_server.url);
    let path = node.system_path();
    {
        let release = Server::serve(dist());
        for needle in ["curl -sfLO", "sh install.sh mirror"] {
            let line = doc_line(&block, needle)
                .replace(README_URL, &release.url)
                .replace(DOC_MIRROR, &mirror);
            let stdout = ok(node.sh(&release.url, &path, &line).current_dir(&cwd));
            if needle.contains("mirror") {
                assert!(
                    stdout.contains(&format!("curl -sfL {mirror}/install.sh | sh -")),
                    "{stdout}"
                );
            }
        }
    }
    assert!(doc_line(&block, "python3 -m http.server 8000").starts_with("cd k3s-pki-mirror"));
    let mut served = entries(&cwd.join("k3s-pki-mirror"));
    served.sort();
    assert_eq!(
        served,
        [
            "SHA256SUMS",
            "SHA256SUMS.sig",
            "install.sh",
            &tarball_name()
        ]
    );

    // The release's server is gone; the nodes have no K3S_PKI_URL.
    let line = doc_line(&block, "| sudo sh -")
        .replace(DOC_MIRROR, &mirror)
        .replace("sudo ", "");
    let (_, stderr) = succeeds(&mut node.sh("", &path, &line));
    assert!(stderr.contains("signature verified"), "{stderr}");
    assert_eq!(node.installed().len(), TOOLS.len());
    node.assert_tmp_empty();
    let node = Node::new();
    ok(&mut node.ash("", &format!("wget -qO- {mirror}/install.sh | sh -")));
    assert_eq!(node.installed().len(), TOOLS.len());
    node.assert_tmp_empty();
}

#[test]
fn a_mirror_is_refused_into_an_existing_directory_or_for_an_unquotable_url() {
    let server = Server::serve(dist());
    let node = Node::new();
    let path = node.system_path();
    let existing = node.path("data");
    let run = |args: &str| {
        node.sh(
            &server.url,
            &path,
            &format!(
                "curl -sfL {}/install.sh | sh -s -- mirror {args}",
                server.url
            ),
        )
    };
    assert_refused(
        &mut run(&format!("http://mirror.example {}", existing.display())),
        &format!(
            "{} already exists: mirror writes a new directory",
            existing.display()
        ),
    );
    let new = node.path("new");
    for url in ["'http://a/$(id)'", "ftp://mirror.example", "'http://a b'"] {
        assert_refused(
            &mut run(&format!("{url} {}", new.display())),
            "mirror URL '",
        );
    }
    assert!(!new.exists());
    node.assert_tmp_empty();
}
