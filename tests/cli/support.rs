//! Shared helpers: start the binary on a free port, read its ready line, talk
//! to it with a real HTTP client, and collect what it printed.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub use oauth_callback_guest::pages::{ERROR_MESSAGE, SUCCESS_MESSAGE};

/// Assert that `response` carries every security header the default
/// handler's crate defines, and a policy that starts from its base policy:
/// the native host and wasi:http hosts alike send what that one list says.
pub fn assert_hardened(response: &reqwest::blocking::Response, context: &str) {
    use oauth_callback_guest::policy::BASE_POLICY;
    use oauth_callback_guest::security::HEADERS;
    let headers = response.headers();
    for (name, value) in HEADERS {
        assert_eq!(headers[name], value, "{name} of {context}");
    }
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with(BASE_POLICY), "{context}: {policy}");
}

const READY_PREFIX: &str = "listening on ";

/// Held by the tests that load the machine hardest (compiling a 12 MiB
/// component, flooding a server) and by those whose bounds would suffer from
/// sharing two cores with them: they run one at a time.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// The command line under test: this build's binary, or the program
/// `$OAUTH_CALLBACK_CLI` names (the Python package's `oauth-callback`
/// script, which carries the same command line: scripts/test-python runs
/// the black-box tests against it too).
pub fn program() -> std::path::PathBuf {
    std::env::var_os("OAUTH_CALLBACK_CLI")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_oauth-callback").into())
}

/// The command line under test ([`program`]).
pub fn binary() -> Command {
    Command::new(program())
}

/// A running `oauth-callback` process.
pub struct Server {
    child: Child,
    /// The redirect URI from the ready line.
    pub uri: String,
    /// `scheme://host:port`, for other routes.
    pub origin: String,
    /// The port it listens on.
    pub port: u16,
    stderr: mpsc::Receiver<String>,
    early_stderr: Vec<String>,
    /// A pipe, not a terminal: read only with `--paste`.
    stdin: Option<ChildStdin>,
}

/// What the process left behind when it exited.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Server {
    /// Start the binary on a free port with `args` and wait for its ready line.
    pub fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    /// [`Server::start`], with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_in(None, args, env)
    }

    /// [`Server::start_with_env`], in the working directory `cwd`.
    pub fn start_in(cwd: Option<&std::path::Path>, args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::spawn(cwd, &[&["--port", "0"], args].concat(), env).when_ready()
    }

    /// Start the binary with exactly `args` (no `--port 0`: the port is
    /// theirs, or a loopback `--redirect-uri`'s) and wait for its ready line.
    pub fn start_as_given(args: &[&str]) -> Server {
        Server::spawn(None, args, &[]).when_ready()
    }

    /// Wait for the ready line, keeping what came before it.
    fn when_ready(mut self) -> Server {
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            let line = self
                .stderr
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("oauth-callback did not print its ready line");
            match line.strip_prefix(READY_PREFIX) {
                Some(uri) => return self.ready_at(uri),
                None => self.early_stderr.push(line),
            }
        }
    }

    /// Start with `args` (which make it quiet) and learn the URI from `ready_file`.
    pub fn start_quiet(args: &[&str], ready_file: &std::path::Path) -> Server {
        let server = Server::spawn(None, &[&["--port", "0"], args].concat(), &[]);
        let deadline = Instant::now() + WAIT_LIMIT;
        while Instant::now() < deadline {
            if let Ok(uri) = std::fs::read_to_string(ready_file) {
                return server.ready_at(uri.trim());
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("oauth-callback did not write {}", ready_file.display());
    }

    fn spawn(cwd: Option<&std::path::Path>, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = binary();
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let mut child = command
            .args(args)
            .env("RUST_LOG", "info")
            // Never the desktop's browser; a test sets its own.
            .env_remove("BROWSER")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start oauth-callback");
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Built before the server is ready so that `Drop` reaps the child
        // whatever happens next.
        Server {
            child,
            uri: String::new(),
            origin: String::new(),
            port: 0,
            stderr: rx,
            early_stderr: Vec::new(),
            stdin,
        }
    }

    fn ready_at(mut self, uri: &str) -> Server {
        let after_scheme = uri.find("://").unwrap() + 3;
        let path_start = after_scheme + uri[after_scheme..].find('/').unwrap();
        self.origin = uri[..path_start].to_string();
        self.port = self.origin.rsplit(':').next().unwrap().parse().unwrap();
        self.uri = uri.to_string();
        self
    }

    /// GET the callback route with `query` on a fresh client.
    pub fn callback(&self, query: &str) -> reqwest::blocking::Response {
        client()
            .get(format!("{}?{query}", self.uri))
            .send()
            .expect("the callback request failed")
    }

    /// The page the callback route answers to `query`.
    pub fn page(&self, query: &str) -> String {
        self.callback(query).text().unwrap()
    }

    /// The URL of `path_and_query` on this server.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.origin, path_and_query)
    }

    /// Write `line` and a newline to the process's stdin.
    pub fn paste(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// The next line the process prints on stderr (kept for [`finish`](Self::finish)).
    pub fn next_stderr_line(&mut self) -> String {
        let line = self
            .stderr
            .recv_timeout(WAIT_LIMIT)
            .expect("oauth-callback printed nothing more");
        self.early_stderr.push(line.clone());
        line
    }

    /// Wait for the process to exit and collect its output.
    pub fn finish(mut self) -> Finished {
        let deadline = Instant::now() + WAIT_LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("oauth-callback did not exit in time");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let stdout = take_stdout(&mut self.child);
        let mut stderr = std::mem::take(&mut self.early_stderr);
        // The reader thread ends when the pipe closes, which ends this loop.
        while let Ok(line) = self.stderr.recv_timeout(WAIT_LIMIT) {
            stderr.push(line);
        }
        Finished {
            status,
            stdout,
            stderr: stderr.join("\n"),
        }
    }

    /// Send SIGINT, as Ctrl-C would.
    pub fn interrupt(&self) {
        self.signal("INT");
    }

    /// Send the signal `name` (`INT`, `TERM`...).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Finished {
    /// The single JSON line on stdout, parsed.
    pub fn result(&self) -> serde_json::Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one line on stdout: {:?}",
            self.stdout
        );
        serde_json::from_str(lines[0]).expect("stdout is JSON")
    }
}

/// Everything `child` wrote to its piped stdout, once it has closed it.
pub fn take_stdout(child: &mut Child) -> String {
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut stdout)
        .unwrap();
    stdout
}

/// An HTTP client that accepts the ad hoc certificate.
pub fn client() -> reqwest::blocking::Client {
    client_builder().build().unwrap()
}

/// [`client`], showing redirects instead of following them.
pub fn client_without_redirects() -> reqwest::blocking::Client {
    client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn client_builder() -> reqwest::blocking::ClientBuilder {
    reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10))
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run the binary to completion with `args` (no server expected).
pub fn run(args: &[&str]) -> Finished {
    let output = binary().args(args).output().unwrap();
    Finished {
        status: output.status,
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Make a FIFO (named pipe) at `path`: opening it for reading blocks until
/// a writer comes, which nothing here ever does.
pub fn mkfifo(path: &std::path::Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

/// Send raw bytes over plain TCP to `port` and return the whole answer
/// (until the server closes or 5 s pass).
pub fn raw_exchange(port: u16, request: &[u8]) -> String {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status code of a raw HTTP answer.
pub fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}

/// A TLS connection to `127.0.0.1:port` that trusts any certificate (the
/// ad hoc one), its handshake done, with nothing sent on it yet.
pub fn tls_connect(
    port: u16,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // What is written is sent at once, not held back for an earlier ACK.
    socket.set_nodelay(true).unwrap();
    while connection.is_handshaking() {
        connection.complete_io(&mut socket).unwrap();
    }
    rustls::StreamOwned::new(connection, socket)
}

/// Accepts every server certificate: the tests talk to ad hoc ones.
#[derive(Debug)]
struct AnyCertificate(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Wait (at most a second) until everything written to `socket` has left
/// it and been acknowledged (`SIOCOUTQ` is 0): the request has arrived.
#[cfg(target_os = "linux")]
pub fn wait_until_delivered(socket: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: an open socket and a valid out pointer for TIOCOUTQ (SIOCOUTQ).
        let asked = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        if asked != 0 || queued == 0 || Instant::now() > deadline {
            return;
        }
        thread::sleep(Duration::from_micros(100));
    }
}

/// Close `socket` with a reset (`SO_LINGER` 0), as a client that goes away
/// at once does.
#[cfg(unix)]
pub fn reset(socket: std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: an open socket and a valid linger struct of the given size.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(set, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
    drop(socket);
}
