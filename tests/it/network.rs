//! The network layer (src/net) against the sandbox served over HTTPS on 127.0.0.1, with a CA
//! and server certificates made at test time: trust, names, dates, TLS versions, timeouts and
//! proxies, and the flags and keys that set them.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use oemr_doctor::cli::{Cli, Command};
use oemr_doctor::commands::check::network_options;
use oemr_doctor::config::Profile;
use oemr_doctor::db::DbSource;
use oemr_doctor::net::{
    build_client, classify, describe_error, probe_tls, FailureKind, NetError, NetworkOptions,
    ProxyEnv, TlsVersion,
};
use oemr_doctor::sandbox::{prepare_database, Sandbox, SandboxConfig, TlsIdentity};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::support::TestDb;

const DISCOVERY: &str = "/apis/default/fhir/.well-known/smart-configuration";

/// A CA made for one test, its certificate written to a PEM file.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: tempfile::TempDir,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(DnType::CommonName, "oemr-doctor test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).unwrap();
        TestCa { issuer, dir }
    }

    fn pem_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for `names` (IP literals become IP SANs), optionally expired.
    fn server(&self, names: &[&str], expired: bool) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn identity(&self, names: &[&str], expired: bool) -> TlsIdentity {
        let (cert, key) = self.server(names, expired);
        TlsIdentity::from_pem(cert, key)
    }
}

async fn https_sandbox(db: &TestDb, identity: TlsIdentity) -> Sandbox {
    prepare_database(&db.database().await, "").await.unwrap();
    let config = SandboxConfig::new(
        DbSource::Url(db.url.clone()),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    );
    Sandbox::start_tls(config, identity).await.unwrap()
}

fn trusting(ca: &TestCa) -> NetworkOptions {
    NetworkOptions {
        ca_cert: Some(ca.pem_path()),
        ..NetworkOptions::default()
    }
}

async fn get(options: &NetworkOptions, url: &str) -> Result<reqwest::Response, reqwest::Error> {
    build_client(options).unwrap().get(url).send().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_https_sandbox_is_reached_with_the_ca_and_refused_without_it() {
    let db = TestDb::new().await;
    let ca = TestCa::new();
    let sandbox = https_sandbox(&db, ca.identity(&["127.0.0.1"], false)).await;
    let base = sandbox.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let url = format!("{base}{DISCOVERY}");

    let answer = get(&trusting(&ca), &url).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(body["token_endpoint"]
        .as_str()
        .unwrap()
        .contains("/oauth2/default/token"));

    let plain = NetworkOptions::default();
    let error = get(&plain, &url).await.unwrap_err();
    assert_eq!(classify(&error), FailureKind::UntrustedCertificate);
    let line = describe_error(&error, &plain, &url);
    assert!(line.contains("not trusted"), "{line}");
    assert!(
        line.contains("--ca-cert") && line.contains("--insecure"),
        "{line}"
    );

    let insecure = NetworkOptions {
        insecure: true,
        ..NetworkOptions::default()
    };
    assert_eq!(get(&insecure, &url).await.unwrap().status(), 200);
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_or_out_of_date_is_named_as_such() {
    let db = TestDb::new().await;
    let ca = TestCa::new();
    let other = https_sandbox(&db, ca.identity(&["emr.elsewhere.test"], false)).await;
    let url = format!("{}{DISCOVERY}", other.base_url());
    let options = trusting(&ca);
    let error = get(&options, &url).await.unwrap_err();
    assert_eq!(classify(&error), FailureKind::HostnameMismatch);
    let line = describe_error(&error, &options, &url);
    assert!(line.contains("certificate is for another name"), "{line}");
    other.stop().await;

    let expired = https_sandbox(&db, ca.identity(&["127.0.0.1"], true)).await;
    let url = format!("{}{DISCOVERY}", expired.base_url());
    let error = get(&options, &url).await.unwrap_err();
    assert_eq!(classify(&error), FailureKind::Expired);
    assert!(describe_error(&error, &options, &url).contains("has expired"));
    expired.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_tls_reports_the_negotiated_version_suite_and_certificate() {
    let db = TestDb::new().await;
    let ca = TestCa::new();
    let options = trusting(&ca);

    let modern = https_sandbox(&db, ca.identity(&["127.0.0.1"], false)).await;
    let url = Url::parse(&modern.base_url()).unwrap();
    let facts = probe_tls(&url, &options).await.unwrap().unwrap();
    assert_eq!(facts.version, TlsVersion::Tls13);
    assert!(facts.version.meets_smart_minimum());
    assert!(
        facts.cipher_suite.starts_with("TLS13_"),
        "{}",
        facts.cipher_suite
    );
    let cert = facts.certificate.unwrap();
    assert_eq!(cert.subject, "CN=127.0.0.1");
    assert_eq!(cert.issuer, "CN=oemr-doctor test CA");
    assert!(cert.not_after.ends_with('Z'), "{}", cert.not_after);

    // Untrusted, the handshake of our own fails the way the HTTP client does.
    let error = probe_tls(&url, &NetworkOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            NetError::Handshake {
                kind: FailureKind::UntrustedCertificate,
                ..
            }
        ),
        "{error:?}"
    );
    modern.stop().await;

    let old = https_sandbox(&db, ca.identity(&["127.0.0.1"], false).tls12_only()).await;
    let url = Url::parse(&old.base_url()).unwrap();
    let facts = probe_tls(&url, &options).await.unwrap().unwrap();
    assert_eq!(facts.version, TlsVersion::Tls12);
    assert_eq!(facts.version.to_string(), "TLS 1.2");
    assert!(
        facts.cipher_suite.starts_with("TLS_ECDHE_"),
        "{}",
        facts.cipher_suite
    );
    old.stop().await;

    let plain = Url::parse("http://127.0.0.1:1/").unwrap();
    assert_eq!(probe_tls(&plain, &options).await.unwrap(), None);
}

/// A listener on 127.0.0.1 that accepts connections and never says a word.
async fn silent_listener() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (addr, task)
}

fn short_timeouts() -> NetworkOptions {
    NetworkOptions {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        ..NetworkOptions::default()
    }
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_total_timeout() {
    let (addr, task) = silent_listener().await;
    let options = short_timeouts();
    let url = format!("http://{addr}/apis/default/fhir/metadata");
    let error = get(&options, &url).await.unwrap_err();
    assert_eq!(classify(&error), FailureKind::AnswerTimeout);
    let line = describe_error(&error, &options, &url);
    assert!(line.contains("no complete answer within 2 s"), "{line}");
    task.abort();
}

/// On loopback a TCP connect never hangs, but a TLS handshake the server never answers is
/// part of connecting too, so it is what the connect timeout fires on here.
#[tokio::test]
async fn a_handshake_that_never_finishes_hits_the_connect_timeout() {
    let (addr, task) = silent_listener().await;
    let options = short_timeouts();
    let url = format!("https://{addr}/");
    let error = get(&options, &url).await.unwrap_err();
    assert_eq!(classify(&error), FailureKind::ConnectTimeout);
    let line = describe_error(&error, &options, &url);
    assert!(line.contains("connect timeout after 1 s"), "{line}");

    let error = probe_tls(&Url::parse(&url).unwrap(), &options)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("connect timeout after 1 s reaching 127.0.0.1:"),
        "{error}"
    );
    task.abort();
}

/// A forward and CONNECT proxy on 127.0.0.1 that counts what it is asked and refuses any
/// target that is not on 127.0.0.1.
struct TestProxy {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestProxy {
    async fn start() -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let seen = asked.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(relay(stream, seen.clone()));
            }
        });
        TestProxy { addr, asked, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

async fn relay(mut client: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let Some(head) = read_head(&mut client).await else {
        return;
    };
    let request_line = head.lines().next().unwrap_or("").to_string();
    seen.lock().unwrap().push(request_line.clone());
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (authority, forward) = if method == "CONNECT" {
        (target.to_string(), None)
    } else {
        let url = Url::parse(target).unwrap();
        let authority = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let origin_form = head.replacen(target, url.path(), 1);
        (authority, Some(origin_form))
    };
    assert!(
        authority.starts_with("127.0.0.1:"),
        "only loopback: {authority}"
    );
    let mut server = TcpStream::connect(&authority).await.unwrap();
    match forward {
        None => client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .unwrap(),
        Some(head) => server.write_all(head.as_bytes()).await.unwrap(),
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.ok()?);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn env_of(vars: &[(&str, String)]) -> ProxyEnv {
    let vars = vars.to_vec();
    ProxyEnv::from_lookup(move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_the_tls_check_go_through_the_proxy_unless_no_proxy_says_not() {
    let db = TestDb::new().await;
    let ca = TestCa::new();
    let sandbox = https_sandbox(&db, ca.identity(&["127.0.0.1"], false)).await;
    let proxy = TestProxy::start().await;
    let url = format!("{}{DISCOVERY}", sandbox.base_url());
    let tunnel = format!("CONNECT {} HTTP/1.1", sandbox.addr());

    let via_flag = NetworkOptions {
        proxy: Some(proxy.url()),
        ..trusting(&ca)
    };
    assert_eq!(get(&via_flag, &url).await.unwrap().status(), 200);
    assert_eq!(proxy.asked(), vec![tunnel.clone()]);
    let facts = probe_tls(&Url::parse(&url).unwrap(), &via_flag)
        .await
        .unwrap();
    assert_eq!(facts.unwrap().version, TlsVersion::Tls13);
    assert_eq!(proxy.asked(), vec![tunnel.clone(), tunnel.clone()]);

    let via_env = NetworkOptions {
        proxy_env: env_of(&[("HTTPS_PROXY", proxy.url())]),
        ..trusting(&ca)
    };
    assert_eq!(get(&via_env, &url).await.unwrap().status(), 200);
    assert_eq!(proxy.asked().len(), 3);

    let bypassed = NetworkOptions {
        proxy_env: env_of(&[
            ("HTTPS_PROXY", proxy.url()),
            ("NO_PROXY", "localhost,127.0.0.0/8".to_string()),
        ]),
        ..via_flag.clone()
    };
    assert_eq!(get(&bypassed, &url).await.unwrap().status(), 200);
    probe_tls(&Url::parse(&url).unwrap(), &bypassed)
        .await
        .unwrap();
    assert_eq!(proxy.asked().len(), 3, "NO_PROXY kept both off the proxy");
    proxy.task.abort();
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_forwarded_by_the_proxy_from_http_proxy() {
    let db = TestDb::new().await;
    let sandbox = crate::e2e::sandbox_on(&db).await;
    let proxy = TestProxy::start().await;
    let url = format!("{}{DISCOVERY}", sandbox.base_url());
    let options = NetworkOptions {
        proxy_env: env_of(&[("http_proxy", proxy.url())]),
        ..NetworkOptions::default()
    };
    assert_eq!(get(&options, &url).await.unwrap().status(), 200);
    assert_eq!(proxy.asked(), vec![format!("GET {url} HTTP/1.1")]);
    proxy.task.abort();
    sandbox.stop().await;
}

#[test]
fn a_bad_ca_cert_file_is_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let build = |path: &Path| {
        let options = NetworkOptions {
            ca_cert: Some(path.to_path_buf()),
            ..NetworkOptions::default()
        };
        build_client(&options).unwrap_err().to_string()
    };
    let missing = dir.path().join("missing.pem");
    let err = build(&missing);
    assert!(
        err.starts_with("cannot read the CA certificate file "),
        "{err}"
    );
    assert!(err.contains("missing.pem"), "{err}");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "just some words\n").unwrap();
    let err = build(&text);
    assert!(
        err.contains("notes.txt") && err.contains("is not PEM"),
        "{err}"
    );

    let key_only = dir.path().join("key.pem");
    std::fs::write(&key_only, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let err = build(&key_only);
    assert!(
        err.contains("key.pem") && err.contains("holds no certificate (only PrivateKey)"),
        "{err}"
    );
}

fn check_args(extra: &[&str]) -> oemr_doctor::cli::CheckArgs {
    let mut argv = vec!["oemr-doctor", "check"];
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Check(args) => args,
        _ => unreachable!(),
    }
}

#[test]
fn network_flags_beat_the_file_which_beats_the_defaults() {
    let ca = TestCa::new();
    let ca_path = ca.pem_path();
    let flags = check_args(&[
        "--connect-timeout",
        "2",
        "--timeout",
        "9",
        "--slow",
        "1",
        "--insecure",
        "--proxy",
        "http://127.0.0.1:3128",
        "--ca-cert",
        ca_path.to_str().unwrap(),
    ]);
    let file = Profile {
        connect_timeout: Some(7),
        timeout: Some(30),
        slow: Some(8),
        proxy: Some("http://127.0.0.1:9".into()),
        ..Profile::default()
    };
    let options = network_options(&flags, &file).unwrap();
    assert_eq!(options.connect_timeout, Duration::from_secs(2));
    assert_eq!(options.timeout, Duration::from_secs(9));
    assert_eq!(options.slow_after, Duration::from_secs(1));
    assert!(options.insecure);
    assert_eq!(options.proxy.as_deref(), Some("http://127.0.0.1:3128"));
    assert_eq!(options.ca_cert.as_deref(), Some(ca_path.as_path()));

    let from_file = network_options(&check_args(&[]), &file).unwrap();
    assert_eq!(from_file.connect_timeout, Duration::from_secs(7));
    assert_eq!(from_file.timeout, Duration::from_secs(30));
    assert_eq!(from_file.proxy.as_deref(), Some("http://127.0.0.1:9"));
    assert!(!from_file.insecure);

    let defaults = network_options(&check_args(&[]), &Profile::default()).unwrap();
    assert_eq!(defaults.connect_timeout, Duration::from_secs(5));
    assert_eq!(defaults.timeout, Duration::from_secs(15));
    assert_eq!(defaults.slow_after, Duration::from_secs(3));
}

#[test]
fn unusable_network_values_are_usage_errors_that_name_them() {
    let failure = network_options(
        &check_args(&["--ca-cert", "missing.pem"]),
        &Profile::default(),
    )
    .unwrap_err();
    assert_eq!(failure.code, 2);
    assert!(
        failure.error.to_string().contains("missing.pem"),
        "{}",
        failure.error
    );

    let failure = network_options(
        &check_args(&["--proxy", "ftp://127.0.0.1"]),
        &Profile::default(),
    )
    .unwrap_err();
    assert_eq!(failure.code, 2);
    assert!(failure
        .error
        .to_string()
        .starts_with("--proxy is not a usable proxy"));

    let err = Cli::try_parse_from(["oemr-doctor", "check", "--connect-timeout", "0"]).unwrap_err();
    assert!(err.to_string().contains("at least 1 second"), "{err}");
    let err = Cli::try_parse_from(["oemr-doctor", "sandbox", "--db-url", "x", "--tls-cert", "c"])
        .unwrap_err();
    assert!(err.to_string().contains("--tls-key"), "{err}");
}

/// Kills the sandbox process this test started, by its own handle, when the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_command_serves_https_with_tls_cert_and_tls_key() {
    let db = TestDb::new().await;
    let ca = TestCa::new();
    let (cert, key) = ca.server(&["127.0.0.1"], false);
    std::fs::write(ca.dir.path().join("server.pem"), cert).unwrap();
    std::fs::write(ca.dir.path().join("server.key"), key).unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("oemr-doctor"))
        .args([
            "sandbox",
            "--init",
            "--port",
            "0",
            "--db-url",
            &db.url,
            "--tls-cert",
        ])
        .arg(ca.dir.path().join("server.pem"))
        .arg("--tls-key")
        .arg(ca.dir.path().join("server.key"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    // The whole output is read, so that the sandbox never writes to a closed pipe.
    let stdout = BufReader::new(running.0.stdout.take().unwrap());
    let (found, base) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(url) = line.trim().strip_prefix("base URL") {
                let _ = found.send(url.trim().to_string());
            }
        }
    });
    let base = base
        .recv_timeout(Duration::from_secs(60))
        .expect("the sandbox prints its base URL");
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let answer = get(&trusting(&ca), &format!("{base}{DISCOVERY}"))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    drop(running);
}

/// check end to end over HTTPS: the TLS version reported, an untrusted certificate named with
/// its fix, and --insecure passing but said loudly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_over_https_reports_tls_and_names_trust_problems() {
    let db = TestDb::new().await;
    let ca = TestCa::new();
    let sandbox = https_sandbox(&db, ca.identity(&["127.0.0.1"], false)).await;
    let database = db.database().await;
    oemr_doctor::sandbox::set_global(&database, "site_addr_oath", &sandbox.site_addr())
        .await
        .unwrap();
    let keys = tempfile::tempdir().unwrap();
    let jwks = crate::support::keygen_into(keys.path());
    crate::support::register_client(&db.pool, "tls-client", "system/Patient.read", &jwks).await;
    let check = |extra: &[&str]| {
        let out = crate::support::doctor()
            .args([
                "check",
                "--base-url",
                &sandbox.base_url(),
                "--client-id",
                "tls-client",
            ])
            .arg("--key")
            .arg(keys.path().join("private-key.pem"))
            .env("DATABASE_URL", &db.url)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };

    let ca_path = ca.pem_path().display().to_string();
    let (code, out) = check(&["--ca-cert", &ca_path]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("TLS: TLS 1.3"), "{out}");
    assert!(out.contains("issued by CN=oemr-doctor test CA"), "{out}");

    let (code, out) = check(&[]);
    assert_eq!(code, 13, "{out}");
    assert!(
        out.contains("--ca-cert"),
        "the untrusted certificate names its fix:\n{out}"
    );

    let (code, out) = check(&["--insecure"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("[warn] inputs") && out.contains("--insecure is on"),
        "{out}"
    );
    sandbox.stop().await;
}
