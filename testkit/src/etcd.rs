//! Real etcd servers on loopback for end-to-end tests: ports chosen free at run
//! time, data in a temporary directory, bounded waits, and every process stopped
//! when the cluster is dropped (also when a test fails).

use std::fs;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long a member may take to answer its first health check.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one etcdctl call may take.
const CALL_TIMEOUT: &str = "10s";

/// The TLS files of one member.
#[derive(Clone, Debug)]
pub struct MemberTls {
    /// Certificate served to clients (may hold the chain after the leaf).
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// Peer certificate (server and client usage).
    pub peer_cert: PathBuf,
    /// Its key.
    pub peer_key: PathBuf,
}

/// The trust of the cluster: which CA files verify clients and peers.
#[derive(Clone, Debug)]
pub struct ClusterTrust {
    /// `--trusted-ca-file`: client certificates must chain to it.
    pub clients: PathBuf,
    /// `--peer-trusted-ca-file`.
    pub peers: PathBuf,
}

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    tls: MemberTls,
    /// Each member's own: a rolling change trusts differently member by member.
    trust: ClusterTrust,
    process: Option<Child>,
    log: PathBuf,
}

/// A running etcd cluster; dropping it stops every member.
pub struct EtcdCluster {
    dir: tempfile::TempDir,
    members: Vec<Member>,
}

/// A loopback port free now and never handed out before in this process: the
/// kernel may give a port just released again (seen: two members of one
/// cluster both on 33333), and members bind theirs only once etcd starts.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no loopback port not handed out before in 1000 tries");
}

impl EtcdCluster {
    /// Starts one member per entry of `tls` and waits until each is healthy
    /// (checked with `probe`, a client certificate the cluster trusts).
    pub fn start(tls: Vec<MemberTls>, trust: ClusterTrust, probe: &Client) -> Result<Self, String> {
        let dir = crate::scratch();
        let members = tls
            .into_iter()
            .enumerate()
            .map(|(i, tls)| Member {
                name: format!("m{i}"),
                client_port: free_port(),
                peer_port: free_port(),
                log: dir.path().join(format!("m{i}.log")),
                tls,
                trust: trust.clone(),
                process: None,
            })
            .collect();
        let mut cluster = EtcdCluster { dir, members };
        for i in 0..cluster.members.len() {
            cluster.spawn(i)?;
        }
        cluster.wait_healthy(probe)?;
        Ok(cluster)
    }

    /// Stops every member and starts them again with new TLS files and trust,
    /// keeping their data.
    pub fn restart(
        &mut self,
        tls: Vec<MemberTls>,
        trust: ClusterTrust,
        probe: &Client,
    ) -> Result<(), String> {
        self.stop();
        for (member, tls) in self.members.iter_mut().zip(tls) {
            member.tls = tls;
            member.trust = trust.clone();
        }
        for i in 0..self.members.len() {
            self.spawn(i)?;
        }
        self.wait_healthy(probe)
    }

    /// Stops member `i` alone and starts it again with new TLS files and
    /// trust, keeping its data, while the others keep running: one step of a
    /// rolling change. Waits until every member is healthy (checked with `probe`).
    pub fn restart_member(
        &mut self,
        i: usize,
        tls: MemberTls,
        trust: ClusterTrust,
        probe: &Client,
    ) -> Result<(), String> {
        let member = &mut self.members[i];
        if let Some(mut child) = member.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        member.tls = tls;
        member.trust = trust;
        self.spawn(i)?;
        self.wait_healthy(probe)
    }

    fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}=https://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let initial_cluster = self.initial_cluster();
        let data = self
            .dir
            .path()
            .join(format!("{}.etcd", self.members[i].name));
        let state = if data.exists() { "existing" } else { "new" };
        let member = &mut self.members[i];
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log)
            .map_err(|e| e.to_string())?;
        let client_url = format!("https://127.0.0.1:{}", member.client_port);
        let peer_url = format!("https://127.0.0.1:{}", member.peer_port);
        let child = Command::new("etcd")
            .arg("--name")
            .arg(&member.name)
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args([
                "--initial-cluster",
                &initial_cluster,
                "--initial-cluster-state",
                state,
            ])
            .args(["--initial-cluster-token", "k3s-pki-test"])
            .arg("--cert-file")
            .arg(&member.tls.cert)
            .arg("--key-file")
            .arg(&member.tls.key)
            .arg("--client-cert-auth")
            .arg("--trusted-ca-file")
            .arg(&member.trust.clients)
            .arg("--peer-cert-file")
            .arg(&member.tls.peer_cert)
            .arg("--peer-key-file")
            .arg(&member.tls.peer_key)
            .arg("--peer-client-cert-auth")
            .arg("--peer-trusted-ca-file")
            .arg(&member.trust.peers)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start etcd (is etcd-server installed?): {e}"))?;
        member.process = Some(child);
        Ok(())
    }

    fn wait_healthy(&mut self, probe: &Client) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        for i in 0..self.members.len() {
            loop {
                if let Some(child) = self.members[i].process.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!(
                            "etcd {} exited ({status}) while starting\n{}",
                            self.members[i].name,
                            self.log_tail()
                        ));
                    }
                }
                if probe.run(self, i, &["endpoint", "health"]).is_ok() {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "etcd {} not healthy after {START_TIMEOUT:?}\n{}",
                        self.members[i].name,
                        self.log_tail()
                    ));
                }
                sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }

    /// `https://127.0.0.1:<port>` of member `i`.
    pub fn endpoint(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.members[i].client_port)
    }

    /// The last lines of every member's log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                let text = fs::read_to_string(&m.log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(15)..].join("\n");
                format!("--- etcd {} log tail ---\n{tail}", m.name)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn stop(&mut self) {
        for member in &mut self.members {
            if let Some(mut child) = member.process.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An etcdctl identity: which CA it trusts and which certificate it presents.
#[derive(Clone, Debug)]
pub struct Client {
    /// `--cacert`: what the client trusts for the server.
    pub trust: PathBuf,
    /// `--cert`.
    pub cert: PathBuf,
    /// `--key`.
    pub key: PathBuf,
}

impl Client {
    /// Runs `etcdctl <args>` against member `i`; Ok(stdout) or Err(stderr).
    pub fn run(&self, cluster: &EtcdCluster, i: usize, args: &[&str]) -> Result<String, String> {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg("--endpoints")
            .arg(cluster.endpoint(i))
            .arg("--cacert")
            .arg(&self.trust)
            .arg("--cert")
            .arg(&self.cert)
            .arg("--key")
            .arg(&self.key)
            .args(["--dial-timeout", "3s", "--command-timeout", CALL_TIMEOUT])
            .args(args)
            .output()
            .map_err(|e| format!("cannot run etcdctl (is etcd-client installed?): {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// Unwraps the result of one scenario step, or fails the test saying which
/// scenario and step failed, with the etcd log tail.
pub fn step<T>(
    cluster: Option<&EtcdCluster>,
    scenario: &str,
    step: &str,
    result: Result<T, String>,
) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            let logs = cluster.map(EtcdCluster::log_tail).unwrap_or_default();
            panic!("{scenario}, step \"{step}\" failed: {error}\n{logs}")
        }
    }
}
