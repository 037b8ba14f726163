//! A throwaway Postgres server for tests and benches: Debian's binaries, a cluster
//! initialised in a temporary directory, listening only on a Unix socket in that
//! directory, a fresh database per caller, stopped when dropped or when the process
//! that started it exits.
//!
//! Postgres refuses to run as root: as root (a container, CI), the server runs as the
//! `postgres` user the Debian package creates (or `nobody`), through `runuser`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// What to do when the binaries are missing.
pub const INSTALL_HINT: &str = "the Postgres tests need a Postgres server's binaries: install \
     Debian's `postgresql` package (`apt-get install postgresql`), which puts initdb and \
     pg_ctl under /usr/lib/postgresql/<version>/bin, or set TAGDESK_PG_BIN to a directory \
     holding them";

/// A running server; stopped (`pg_ctl stop -m immediate`) and removed on drop.
pub struct TestServer {
    dir: PathBuf,
    bin: PathBuf,
    user: Option<String>,
    next: AtomicU32,
    create: Mutex<()>,
}

impl TestServer {
    /// The process's shared server, started on first use. It is never dropped (it is
    /// a static): a watchdog stops it once this process has exited.
    ///
    /// # Panics
    /// When the server can't be started, saying why (the binaries missing: how to
    /// install them).
    pub fn shared() -> &'static TestServer {
        static SERVER: OnceLock<TestServer> = OnceLock::new();
        SERVER.get_or_init(|| {
            let server = TestServer::start(false).unwrap_or_else(|e| panic!("{e}"));
            server.watch(std::process::id());
            server
        })
    }

    /// Starts a server. `durable` keeps Postgres's defaults (every commit fsynced);
    /// otherwise fsync is off, for fast tests.
    pub fn start(durable: bool) -> Result<TestServer, String> {
        let bin = find_bin().ok_or_else(|| INSTALL_HINT.to_owned())?;
        let user = run_as()?;
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tagdesk-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let server = TestServer {
            dir,
            bin,
            user,
            next: AtomicU32::new(0),
            create: Mutex::new(()),
        };
        if let Some(user) = &server.user {
            run(Command::new("chown").arg(user).arg(&server.dir))?;
        }
        let data = server.dir.join("data");
        server.run_pg(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "tagdesk".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let mut conf = format!(
            "\nlisten_addresses = ''\nunix_socket_directories = '{}'\nmax_connections = 200\n",
            server.dir.display()
        );
        if !durable {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        append(&data.join("postgresql.conf"), &conf)?;
        let log = server.dir.join("log");
        server.run_pg(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        )?;
        Ok(server)
    }

    /// The socket directory.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A new, empty database; its connection string.
    pub fn database(&self) -> String {
        let name = format!("t{}", self.next.fetch_add(1, Ordering::Relaxed));
        // One at a time: concurrent copies of the template database can collide.
        let _one = self.create.lock().unwrap_or_else(|e| e.into_inner());
        let host = self.dir.display().to_string();
        let createdb = self.bin.join("createdb");
        run(Command::new(createdb).args(["-h", &host, "-U", "tagdesk", &name]))
            .unwrap_or_else(|e| panic!("creating a test database: {e}"));
        format!("host={host} user=tagdesk dbname={name}")
    }

    /// Stops the server once process `pid` has exited: the shared server is a static,
    /// never dropped, so a small shell loop outlives the tests and stops it.
    fn watch(&self, pid: u32) {
        let stop = self.command("pg_ctl");
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {} -D '{}' stop -m immediate; rm -rf '{}'",
            shell_words(&stop),
            self.dir.join("data").display(),
            self.dir.display(),
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// `tool` from the server's binaries, as the user the server runs as.
    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn run_pg(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let mut c = self.command(tool);
        c.args(args).current_dir(&self.dir);
        run(&mut c)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["stop", "-m", "immediate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The binaries: `$TAGDESK_PG_BIN`, or Debian's newest `/usr/lib/postgresql/*/bin`.
fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TAGDESK_PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").exists().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// `None` to run the server as this process's user; as root, the user to run it as.
fn run_as() -> Result<Option<String>, String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("id -u: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Ok(None);
    }
    for user in ["postgres", "nobody"] {
        let known = Command::new("id")
            .arg(user)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if known {
            return Ok(Some(user.to_owned()));
        }
    }
    Err("running as root, and neither a `postgres` nor a `nobody` user to run Postgres as".into())
}

fn run(c: &mut Command) -> Result<(), String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{c:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{c:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A command line for `sh`, each word quoted.
fn shell_words(c: &Command) -> String {
    std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|w| format!("'{}'", w.to_string_lossy().replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}
