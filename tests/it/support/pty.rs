//! Runs the real `qemu-dash` binary in a pseudo-terminal, sends keys, and parses the screen
//! with a terminal emulator so tests read what a user would see.

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, SlavePty, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_qemu-dash")
}

/// The environment every run of the binary gets, so that nothing of the user's changes what a
/// test sees: a config and data home of the test suite's own (a user's `read_only = true` or
/// console history stays out) and no `NO_COLOR` (a test that wants it sets it). The guest
/// cache (`XDG_CACHE_HOME`, `HOME`) is left alone: the demo and the harness share it.
pub fn hermetic_env() -> (Vec<(&'static str, std::path::PathBuf)>, [&'static str; 1]) {
    let home = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("hermetic");
    let set = vec![
        ("XDG_CONFIG_HOME", home.join("config")),
        ("XDG_DATA_HOME", home.join("data")),
    ];
    (set, ["NO_COLOR"])
}

/// `qemu-dash` as a [`std::process::Command`] with the [`hermetic_env`].
pub fn command() -> std::process::Command {
    let mut command = std::process::Command::new(binary());
    let (set, removed) = hermetic_env();
    command.envs(set);
    for name in removed {
        command.env_remove(name);
    }
    command
}

/// A running `qemu-dash` on a pseudo-terminal.
pub struct Dashboard {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    slave: Box<dyn SlavePty + Send>,
    master: Box<dyn MasterPty + Send>,
}

impl Dashboard {
    /// Starts `qemu-dash ARGS` on a `cols`x`rows` terminal.
    pub fn start(args: &[&str], cols: u16, rows: u16) -> Dashboard {
        Self::start_with_env(args, &[], cols, rows)
    }

    /// Starts `qemu-dash ARGS` with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)], cols: u16, rows: u16) -> Dashboard {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut command = CommandBuilder::new(binary());
        command.args(args);
        command.env("TERM", "xterm-256color");
        let (set, removed) = hermetic_env();
        for (key, value) in set {
            command.env(key, value);
        }
        for name in removed {
            command.env_remove(name);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = pty.slave.spawn_command(command).expect("spawn qemu-dash");
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let writer = pty.master.take_writer().expect("pty writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZero::new(rows).expect("rows > 0"),
            std::num::NonZero::new(cols).expect("cols > 0"),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (screen_feed, raw_feed) = (screen.clone(), raw.clone());
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(read) = reader.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                screen_feed.lock().unwrap().process(&buffer[..read]);
                raw_feed.lock().unwrap().extend_from_slice(&buffer[..read]);
            }
        });
        Dashboard {
            child,
            writer,
            screen,
            raw,
            slave: pty.slave,
            master: pty.master,
        }
    }

    /// Resizes the terminal to `cols`x`rows` (the program gets SIGWINCH, as from a real
    /// terminal window).
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize the pty");
        self.screen.lock().unwrap().set_size(
            std::num::NonZero::new(rows).expect("rows > 0"),
            std::num::NonZero::new(cols).expect("cols > 0"),
        );
    }

    /// The screen's text now.
    pub fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Where the terminal cursor is: (row, column), 0-based.
    pub fn cursor(&self) -> (u16, u16) {
        self.screen.lock().unwrap().screen().cursor_position()
    }

    /// The screen's row that contains `needle`, as text (`None` when no row does).
    pub fn row_with(&self, needle: &str) -> Option<(u16, String)> {
        let parser = self.screen.lock().unwrap();
        let screen = parser.screen();
        let (_, cols) = screen.size();
        screen
            .rows(0, cols.get())
            .enumerate()
            .find(|(_, row)| row.contains(needle))
            .map(|(at, row)| (at as u16, row))
    }

    /// The style of the first cell of the first place `needle` shows on screen (`None`
    /// when it does not show). Wide characters count as one column each in `needle`.
    pub fn style_of(&self, needle: &str) -> Option<CellStyle> {
        let parser = self.screen.lock().unwrap();
        let screen = parser.screen();
        let (rows, cols) = screen.size();
        for row in 0..rows.get() {
            let mut line = String::new();
            let mut columns = Vec::new();
            for col in 0..cols.get() {
                let Some(cell) = screen.cell(row, col) else {
                    continue;
                };
                if cell.is_wide_continuation() {
                    continue;
                }
                let text = if cell.has_contents() {
                    cell.contents()
                } else {
                    " "
                };
                for _ in text.chars() {
                    columns.push(col);
                }
                line.push_str(text);
            }
            if let Some(at) = line.find(needle) {
                let index = line[..at].chars().count();
                let cell = screen.cell(row, columns[index])?;
                return Some(CellStyle {
                    fg: cell.fgcolor(),
                    bold: cell.bold(),
                    dim: cell.dim(),
                    underline: cell.underline(),
                });
            }
        }
        None
    }

    /// Everything the program wrote, raw.
    pub fn raw(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }

    /// Waits until the program's raw output contains `needle` (its last bytes may still be
    /// on their way from the pseudo-terminal after it exits).
    pub fn wait_raw(&self, needle: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if String::from_utf8_lossy(&self.raw()).contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends keys (bytes as a terminal would).
    pub fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).expect("send keys");
        self.writer.flush().expect("flush keys");
    }

    /// The screen once no output has arrived for 50 ms, so a frame is not read half drawn.
    pub fn settled_text(&self) -> String {
        let mut seen = self.raw.lock().unwrap().len();
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.raw.lock().unwrap().len();
            if now == seen {
                break;
            }
            seen = now;
        }
        self.text()
    }

    /// Waits until the screen contains `needle`, then returns the settled screen; panics with
    /// the screen otherwise.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let text = self.text();
            if text.contains(needle) {
                return self.settled_text();
            }
            if start.elapsed() > timeout {
                panic!("screen did not show {needle:?} within {timeout:?}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The dashboard's pid.
    pub fn pid(&self) -> u32 {
        self.child.process_id().expect("pid")
    }

    /// Runs `program ARGS` on the same pseudo-terminal, as another program (a shell) would
    /// while the dashboard runs or is stopped, and waits for it.
    pub fn run_beside(&self, program: &str, args: &[&str]) {
        let mut command = CommandBuilder::new(program);
        command.args(args);
        // The terminal may still be the dashboard's controlling terminal: do not claim it.
        command.set_controlling_tty(false);
        let mut child = self.slave.spawn_command(command).expect("spawn");
        child.wait().expect("wait");
    }

    /// The terminal's modes now (`stty -a` run on the same pseudo-terminal).
    pub fn terminal_modes(&self) -> String {
        // Only output from this run counts: an earlier `stty -a` may be in the log.
        let before = self.raw().len();
        self.run_beside("stty", &["-a"]);
        let start = Instant::now();
        loop {
            let raw = self.raw();
            let raw = String::from_utf8_lossy(&raw[before.min(raw.len())..]).to_string();
            if let Some(at) = raw.rfind("speed ") {
                let modes = &raw[at..];
                if modes.contains("echoctl") || start.elapsed() > Duration::from_secs(5) {
                    return modes.to_string();
                }
            }
            if start.elapsed() > Duration::from_secs(5) {
                panic!("no stty output");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts that `stty -a` lists each of `modes` now (such as "icanon" or "-echo"); `when`
    /// names the case in the failure.
    pub fn assert_modes(&self, modes: &[&str], when: &str) {
        let listed = self.terminal_modes();
        let words: Vec<&str> = listed.split_whitespace().collect();
        for mode in modes {
            assert!(words.contains(mode), "{when}: not {mode}: {listed}");
        }
    }

    /// Asserts that the terminal is back in the shell's hands: the alternate screen left, line
    /// editing and echo on.
    pub fn assert_terminal_given_back(&self, when: &str) {
        assert!(
            self.wait_raw("\x1b[?1049l", Duration::from_secs(15)),
            "{when}: did not leave the alternate screen"
        );
        self.assert_modes(&["icanon", "echo"], when);
    }

    /// Waits for the process to exit; returns whether it exited successfully.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<bool> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.success());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a cell is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellStyle {
    /// Foreground colour.
    pub fg: vt100::Color,
    /// Bold.
    pub bold: bool,
    /// Dimmed (faint).
    pub dim: bool,
    /// Underlined.
    pub underline: bool,
}

/// `qemu-dash` run to completion without a terminal (batch mode, subcommands, errors).
pub struct Finished {
    /// Exit status 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `qemu-dash ARGS` with extra environment variables and waits for it.
pub fn run_with_env<I, S>(args: I, env: &[(&str, &str)]) -> Finished
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output = command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run qemu-dash");
    Finished {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `qemu-dash ARGS` and waits for it.
pub fn run<I, S>(args: I) -> Finished
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_with_env(args, &[])
}

impl Finished {
    /// Stdout's JSON lines; panics with stderr unless the run succeeded.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        assert!(self.success, "qemu-dash failed: {}", self.stderr);
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect()
    }

    /// Asserts the run failed with exactly one line on stderr, containing `needle`.
    pub fn assert_one_line_error(&self, needle: &str) {
        assert!(!self.success, "expected a failure; stdout: {}", self.stdout);
        let stderr = self.stderr.trim();
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(needle), "{stderr}");
    }
}
