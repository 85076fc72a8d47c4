//! The real `cdrlake serve` as a child process on a free loopback port, and a Flight SQL client
//! for it.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::util::display::array_value_to_string;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use tonic::transport::Channel;

use super::Lake;

/// A `cdrlake` server process, killed on drop.
pub struct Server {
    process: std::process::Child,
    pub addr: String,
    /// Every line it printed so far.
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Runs `cdrlake <args> --listen <free port>` in `cwd` and waits until it serves.
    pub fn start(cwd: &Path, args: &[&str]) -> Self {
        Self::start_with_env(cwd, args, &[])
    }

    /// The same, with `env` set (the test's own AWS_ and CDRLAKE_ variables are not passed on).
    pub fn start_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cdrlake"));
        command
            .current_dir(cwd)
            .args(args)
            .args(["--listen", &addr])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k.starts_with("CDRLAKE_") {
                command.env_remove(k);
            }
        }
        command.envs(env.iter().copied());
        let mut process = command.spawn().unwrap();
        let stdout = process.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let output = Arc::new(Mutex::new(Vec::new()));
        // The log (stderr) goes to the same lines, so tests can look for what it says.
        let stderr = process.stderr.take().unwrap();
        let logged = output.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                logged.lock().unwrap().push(line);
            }
        });
        loop {
            match lines.next() {
                Some(Ok(line)) => {
                    let serving = line.starts_with("Flight SQL on");
                    output.lock().unwrap().push(line);
                    if serving {
                        break;
                    }
                }
                _ => panic!(
                    "cdrlake exited: {:?}\n{}",
                    process.wait(),
                    output.lock().unwrap().join("\n")
                ),
            }
        }
        // Keep reading, so the server never blocks on a full pipe.
        let kept = output.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Self {
            process,
            addr,
            output,
        }
    }

    /// Whether it printed a line containing `text`.
    pub fn printed(&self, text: &str) -> bool {
        self.output.lock().unwrap().iter().any(|l| l.contains(text))
    }

    pub async fn client(&self, user: &str, password: &str) -> FlightSqlServiceClient<Channel> {
        let mut client = self.anonymous().await;
        client.handshake(user, password).await.unwrap();
        client
    }

    /// A client without credentials (a demo-mode server takes it as an engineer).
    pub async fn anonymous(&self) -> FlightSqlServiceClient<Channel> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        FlightSqlServiceClient::new(channel)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Users ana (analyst, password ana-pw) and eng (engineer, eng-pw) in `cdrlake.toml`.
pub fn users_config(lake: &Lake) -> PathBuf {
    let hash = |pw: &str| cdrlake::server::auth::hash_password(pw).unwrap();
    lake.file(
        "cdrlake.toml",
        format!(
            "[[server.users]]\nname = \"ana\"\npassword_hash = \"{}\"\nrole = \"analyst\"\n\n\
             [[server.users]]\nname = \"eng\"\npassword_hash = \"{}\"\nrole = \"engineer\"\n",
            hash("ana-pw"),
            hash("eng-pw")
        ),
    )
}

pub async fn rows(client: &mut FlightSqlServiceClient<Channel>, sql: &str) -> Vec<String> {
    try_rows(client, sql).await.unwrap()
}

/// A query's rows as comma-joined text (a run id shown as `<run>`), or its error.
pub async fn try_rows(
    client: &mut FlightSqlServiceClient<Channel>,
    sql: &str,
) -> Result<Vec<String>, String> {
    let info = client
        .execute(sql.into(), None)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for endpoint in info.endpoint {
        let batches: Vec<RecordBatch> = client
            .do_get(endpoint.ticket.unwrap())
            .await
            .map_err(|e| e.to_string())?
            .try_collect()
            .await
            .map_err(|e| e.to_string())?;
        for batch in batches {
            for row in 0..batch.num_rows() {
                let cells: Vec<String> = batch
                    .columns()
                    .iter()
                    .zip(batch.schema().fields())
                    .map(|(column, field)| match field.name().as_str() {
                        "run_id" => "<run>".to_string(),
                        _ => array_value_to_string(column, row).unwrap(),
                    })
                    .collect();
                out.push(cells.join(","));
            }
        }
    }
    Ok(out)
}

/// Runs `sql` on `server` until `done` holds for its rows (three minutes at most).
pub async fn wait_for(server: &Server, sql: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut client = server.anonymous().await;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let last = match try_rows(&mut client, sql).await {
            Ok(found) if done(&found) => return found,
            outcome => outcome,
        };
        assert!(
            Instant::now() < deadline,
            "timed out waiting for: {sql}\nlast: {last:?}\nserver output:\n{}",
            server.output.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A plain HTTP/1.1 GET: the whole response, status line first.
pub fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
