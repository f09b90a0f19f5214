//! The stores a local CA's root is trusted in, one file each (as mkcert's
//! `truststore_*.go`), each behind [`Store`]; the catalogue of this
//! system's; and [`Runner`], the one way their programs are run, which the
//! tests stand in for.

mod keychain;
mod nss;
mod system;
mod windows;

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::LocalCa;
use super::trust_error::TrustError;

pub(crate) use nss::TRUST_FLAGS as NSS_TRUST_FLAGS;
pub(crate) use system::SystemStore;
pub(crate) use windows::USAGE_FILE as WINDOWS_USAGE_FILE;

/// The root's nickname where a store names it by one (NSS).
pub(crate) const NICKNAME: &str = "oauth-callback local CA";
/// The program the user's stores need on this system: without it, none
/// can be used.
pub(crate) const USER_STORE_PROGRAM: &str = if cfg!(target_os = "macos") {
    "security"
} else {
    "certutil"
};

/// A store of trusted roots: check, add and remove the local CA's root.
pub(crate) trait Store {
    /// What it is called in reports, e.g. `Firefox (/home/alice/.mozilla/firefox/x.default)`.
    fn name(&self) -> String;
    /// Why it cannot be used here (its program is missing), or `None`.
    fn unavailable(&self, runner: &dyn Runner) -> Option<String>;
    /// Whether it holds `ca`'s root.
    fn holds(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<bool, TrustError>;
    /// Trust `ca`'s root, for TLS servers only where the store can say so.
    fn add(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError>;
    /// Take every copy of `ca`'s root out.
    fn remove(&self, ca: &LocalCa, runner: &dyn Runner) -> Result<(), TrustError>;
    /// Take out what an earlier CA of this user left, when the store can
    /// tell it apart from others' certificates (an NSS database's copies
    /// under the root's nickname); whether there was any.
    fn remove_leftover(&self, _runner: &dyn Runner) -> Result<bool, TrustError> {
        Ok(false)
    }
    /// Whether it is the system's store (trusted only when asked).
    fn is_system(&self) -> bool {
        false
    }
}

/// What a program said, run to its end.
#[derive(Debug, Default)]
pub(crate) struct Ran {
    pub(crate) success: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// How long a store's program may run before it is killed (Windows' asks
/// the user to confirm: that takes a person).
pub(crate) const PROGRAM_TIMEOUT: Duration = Duration::from_secs(120);
/// What is kept of each of a program's outputs; the rest is read and
/// dropped, so that it never blocks on a full pipe.
const MAX_OUTPUT: u64 = 64 << 10;

/// How the stores find and run their programs.
pub(crate) trait Runner {
    /// Where `program` is, when it is here.
    fn find(&self, program: &str) -> Option<PathBuf>;
    /// Run `program` with `args`, its standard input empty (it cannot
    /// prompt), for at most [`PROGRAM_TIMEOUT`], keeping [`MAX_OUTPUT`] of
    /// each output; an error when it cannot be started or does not finish.
    fn run(&self, program: &Path, args: &[OsString]) -> Result<Ran, TrustError>;

    /// Run `program`, which must succeed; else an error with what it said.
    fn run_ok(&self, program: &Path, args: &[OsString]) -> Result<Ran, TrustError> {
        let ran = self.run(program, args)?;
        if ran.success {
            Ok(ran)
        } else {
            Err(TrustError::Program {
                program: program.display().to_string(),
                said: ran.stderr.trim().to_string(),
            })
        }
    }
}

/// The real programs of this system, found on the `PATH`.
pub(crate) struct SystemRunner;

impl Runner for SystemRunner {
    fn find(&self, program: &str) -> Option<PathBuf> {
        crate::platform::find_program(program)
    }

    fn run(&self, program: &Path, args: &[OsString]) -> Result<Ran, TrustError> {
        let failed = |source| TrustError::Start {
            program: program.display().to_string(),
            source,
        };
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(failed)?;
        let stdout = capped(child.stdout.take());
        let stderr = capped(child.stderr.take());
        let deadline = Instant::now() + PROGRAM_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(failed)? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TrustError::TimedOut {
                    program: program.display().to_string(),
                    after: PROGRAM_TIMEOUT,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Ok(Ran {
            success: status.success(),
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    }
}

/// Read `output` to its end on a thread of its own, keeping its first
/// [`MAX_OUTPUT`] bytes (as text).
fn capped(output: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let Some(mut output) = output else {
            return String::new();
        };
        let mut kept = Vec::new();
        let _ = output.by_ref().take(MAX_OUTPUT).read_to_end(&mut kept);
        let _ = std::io::copy(&mut output, &mut std::io::sink());
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// Where the stores of this system are.
#[derive(Debug, Clone)]
pub(crate) struct Places {
    /// The user's home folder.
    pub(crate) home: PathBuf,
    /// Linux under WSL, where Windows' store is the browser's too.
    pub(crate) wsl: bool,
    /// Run by `sudo` for the user whose home this is.
    pub(crate) sudo: bool,
}

impl Places {
    /// This user's, on this system (under `sudo`, the invoking user's);
    /// `None` without a home folder.
    pub(crate) fn here() -> Option<Places> {
        let (home, sudo) = match crate::platform::sudo_user_home() {
            Some(home) => (home, true),
            None => (
                directories::BaseDirs::new()?.home_dir().to_path_buf(),
                false,
            ),
        };
        Some(Places {
            home,
            wsl: crate::platform::on_wsl(),
            sudo,
        })
    }
}

/// The user's stores on this system: on Linux the NSS databases (Chromium's
/// made first when `create` and missing) and, on WSL, Windows'; on macOS the
/// login keychain; on Windows the current user's Root store.
pub(crate) fn user_stores(
    places: &Places,
    create: bool,
    runner: &dyn Runner,
) -> Vec<Box<dyn Store>> {
    if cfg!(windows) {
        return vec![Box::new(windows::Windows { wsl: false })];
    }
    if cfg!(target_os = "macos") {
        return vec![Box::new(keychain::Keychain::login(&places.home))];
    }
    let mut stores: Vec<Box<dyn Store>> = nss::databases(&places.home, create, runner)
        .into_iter()
        .map(|store| Box::new(store) as Box<dyn Store>)
        .collect();
    if places.wsl {
        stores.push(Box::new(windows::Windows { wsl: true }));
    }
    stores
}

/// Command-line words.
fn words(items: &[&str]) -> Vec<OsString> {
    items.iter().map(OsString::from).collect()
}

/// Where `program` is, or its bare name (for an error that names it).
fn program(runner: &dyn Runner, name: &str) -> PathBuf {
    runner.find(name).unwrap_or_else(|| PathBuf::from(name))
}

/// `program is missing`, when it is.
fn missing(runner: &dyn Runner, name: &str) -> Option<String> {
    runner
        .find(name)
        .is_none()
        .then(|| format!("{name} is missing"))
}

/// How many copies of the root a removal takes out at most.
const MAX_COPIES: usize = 16;

/// Run `program` with `args` (which remove one copy of the root) until
/// `store` holds none; one still there after [`MAX_COPIES`] is an error.
fn remove_copies(
    store: &dyn Store,
    ca: &LocalCa,
    runner: &dyn Runner,
    program: &Path,
    args: &[OsString],
) -> Result<(), TrustError> {
    for _ in 0..MAX_COPIES {
        if !store.holds(ca, runner)? {
            return Ok(());
        }
        runner.run_ok(program, args)?;
    }
    Err(TrustError::Program {
        program: program.display().to_string(),
        said: format!(
            "{} still holds the root after {MAX_COPIES} removals",
            store.name()
        ),
    })
}

#[cfg(test)]
pub(crate) mod fake {
    //! A [`Runner`] that records what it is asked and answers from a script.

    use std::cell::RefCell;

    use super::*;

    /// Programs it knows (by name), and for each command line (joined by
    /// spaces) whether it succeeds and what it prints; everything else
    /// succeeds, printing nothing.
    #[derive(Default)]
    pub(crate) struct FakeRunner {
        programs: Vec<&'static str>,
        answers: Vec<(String, Ran)>,
        asked: RefCell<Vec<String>>,
        /// A store it keeps: the command lines that check for, add and
        /// remove a copy of the root, and how many copies it holds.
        store: Option<[&'static str; 3]>,
        copies: std::cell::Cell<usize>,
        /// What a check prints for each copy it holds: the file an add was
        /// given (NSS lists a copy as PEM, and its nickname with its flags).
        held: RefCell<String>,
    }

    impl FakeRunner {
        pub(crate) fn with(programs: &[&'static str]) -> FakeRunner {
            FakeRunner {
                programs: programs.to_vec(),
                ..FakeRunner::default()
            }
        }

        /// `line` (a prefix of a command line) answers `success`, printing `stdout`.
        pub(crate) fn answer(mut self, line: &str, success: bool, stdout: &str) -> FakeRunner {
            let ran = Ran {
                success,
                stdout: stdout.into(),
                stderr: if success {
                    String::new()
                } else {
                    "refused".into()
                },
            };
            self.answers.push((line.into(), ran));
            self
        }

        /// `line` (a prefix of a command line) fails, saying `stderr`.
        pub(crate) fn answer_stderr(mut self, line: &str, stderr: &str) -> FakeRunner {
            let ran = Ran {
                success: false,
                stdout: String::new(),
                stderr: stderr.into(),
            };
            self.answers.push((line.into(), ran));
            self
        }

        /// Keep a store holding `copies` roots: a line starting with
        /// `check` succeeds while it holds one, `add` adds one, `remove`
        /// takes one out.
        pub(crate) fn store(
            mut self,
            [check, add, remove]: [&'static str; 3],
            copies: usize,
        ) -> FakeRunner {
            self.store = Some([check, add, remove]);
            self.copies.set(copies);
            self
        }

        /// Its store holds `pem` (what a check prints for each copy).
        pub(crate) fn holding(self, pem: &str) -> FakeRunner {
            *self.held.borrow_mut() = pem.into();
            self
        }

        /// How many roots its store holds.
        pub(crate) fn copies(&self) -> usize {
            self.copies.get()
        }

        /// Every command line asked, in order.
        pub(crate) fn asked(&self) -> Vec<String> {
            self.asked.borrow().clone()
        }
    }

    impl Runner for FakeRunner {
        fn find(&self, program: &str) -> Option<PathBuf> {
            self.programs
                .contains(&program)
                .then(|| PathBuf::from(program))
        }

        fn run(&self, program: &Path, args: &[OsString]) -> Result<Ran, TrustError> {
            let mut line = program.display().to_string();
            for arg in args {
                line.push(' ');
                line.push_str(&arg.to_string_lossy());
            }
            self.asked.borrow_mut().push(line.clone());
            if let Some([check, add, remove]) = self.store {
                let copies = self.copies.get();
                if line.starts_with(check) {
                    let stderr = match copies {
                        0 => "certutil: Could not find cert: oauth-callback local CA".into(),
                        _ => String::new(),
                    };
                    let copy = format!("{}\n{NICKNAME}    C,,\n", self.held.borrow());
                    return Ok(Ran {
                        success: copies > 0,
                        stdout: copy.repeat(copies),
                        stderr,
                    });
                }
                if line.starts_with(add) {
                    self.copies.set(copies + 1);
                    if let Some(added) = args.last().and_then(|f| std::fs::read_to_string(f).ok()) {
                        *self.held.borrow_mut() = added;
                    }
                }
                if line.starts_with(remove) {
                    self.copies.set(copies.saturating_sub(1));
                }
            }
            let answer = self
                .answers
                .iter()
                .rev()
                .find(|(prefix, _)| line.starts_with(prefix.as_str()));
            Ok(match answer {
                Some((_, ran)) => Ran {
                    success: ran.success,
                    stdout: ran.stdout.clone(),
                    stderr: ran.stderr.clone(),
                },
                None => Ran {
                    success: true,
                    ..Ran::default()
                },
            })
        }
    }
}
