//! Running a filter in a worker process: slots per user and in total, workers kept for their
//! user between filters, the deadline that kills, and reading how a worker died.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Stdio};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::worker::{self, Reply, Request};
use super::{JqError, check_text};

/// What one filter may use. The defaults are sized for filters that reshape a tool's answer
/// (milliseconds, a few MiB); every bound is far above what such a filter needs and far below
/// what would hurt the server or its other users on a 2-core machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Data the worker may allocate (`RLIMIT_DATA`: heap and anonymous mappings).
    pub memory: u64,
    /// CPU seconds one filter may use (`RLIMIT_CPU`, reset per filter): the step budget.
    pub cpu_secs: u64,
    /// The worker's stack (`RLIMIT_STACK`): bounds recursion.
    pub stack: u64,
    /// Wall-clock time before the worker is killed (a caller's own deadline may be shorter).
    pub wall: Duration,
    /// Largest request (filter, input and `$steps` as JSON) sent to a worker.
    pub max_input: usize,
    /// Largest answer read back from a worker.
    pub max_output: usize,
    /// Filters one user may run at once.
    pub per_user: usize,
    /// Filters the server runs at once.
    pub total: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: 256 << 20,
            cpu_secs: 2,
            stack: 8 << 20,
            wall: Duration::from_secs(5),
            max_input: 16 << 20,
            max_output: 8 << 20,
            per_user: 2,
            total: 4,
        }
    }
}

/// Filters one worker evaluates before it is replaced: a worker is reused only for the user it
/// first served (no other user's data ever passes through it), and not forever, so whatever
/// its allocator keeps is given back now and then.
const MAX_USES: u32 = 64;
/// Idle workers kept, each for its user; the least recently used goes first.
const MAX_IDLE: usize = 4;

/// The jq sandbox of one server: how to start a worker, the limits, the slots in use and the
/// idle workers.
#[derive(Debug)]
pub struct Sandbox {
    program: PathBuf,
    limits: Limits,
    slots: Mutex<Slots>,
    freed: Condvar,
    idle: Arc<Mutex<Vec<Worker>>>,
}

#[derive(Debug, Default)]
struct Slots {
    total: usize,
    per_user: HashMap<String, usize>,
}

/// A live worker process and its pipes.
#[derive(Debug)]
struct Worker {
    child: Child,
    pipes: Pipes,
    stderr: ChildStderr,
    /// The user it has served, `None` until its first filter.
    owner: Option<String>,
    uses: u32,
}

#[derive(Debug)]
struct Pipes {
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl Sandbox {
    /// A sandbox whose workers are `program jq-worker ...` (the gitgate binary itself).
    pub fn new(program: PathBuf, limits: Limits) -> Self {
        Self {
            program,
            limits,
            slots: Mutex::new(Slots::default()),
            freed: Condvar::new(),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The running binary as the worker program. `/proc/self/exe` still starts this very
    /// binary after the file on disk was replaced or removed (an upgrade under a running
    /// server), where its path would start the new one, or nothing.
    pub fn for_current_exe(limits: Limits) -> std::io::Result<Self> {
        let exe = PathBuf::from("/proc/self/exe");
        if exe.exists() {
            return Ok(Self::new(exe, limits));
        }
        Ok(Self::new(std::env::current_exe()?, limits))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Filters `user` is running now.
    pub fn running(&self, user: &str) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.per_user.get(user).copied().unwrap_or(0)
    }

    /// Runs `filter` on `input` for `user`, with `$steps` bound to `steps`, returning at most
    /// `max_values` outputs within `deadline` (and the sandbox's own limits).
    pub fn run(
        &self,
        user: &str,
        filter: &str,
        input: Value,
        steps: Value,
        max_values: usize,
        deadline: Duration,
    ) -> Result<Vec<Value>, JqError> {
        check_text(filter)?;
        let request = serde_json::to_vec(&Request {
            filter: filter.to_owned(),
            input,
            steps,
            max_values,
        })
        .map_err(|e| JqError::Sandbox(format!("cannot encode the request: {e}")))?;
        if request.len() > self.limits.max_input {
            return Err(JqError::InputTooLarge(self.limits.max_input));
        }
        let budget = deadline.min(self.limits.wall);
        let deadline = Instant::now() + budget;
        let _slot = self.acquire(user, deadline)?;
        let worker = self.take_worker(user)?;
        let result = self.exchange(worker, request, deadline, budget);
        match result {
            Ok((reply, mut worker)) => {
                worker.owner = Some(user.to_owned());
                worker.uses += 1;
                self.put_back(worker);
                reply.into_result()
            }
            Err(e) => Err(e),
        }
    }

    /// Sends the request and reads the reply, killing the worker at the deadline. A worker
    /// that answered is handed back for reuse; one that did not is reaped before this returns.
    fn exchange(
        &self,
        worker: Worker,
        request: Vec<u8>,
        deadline: Instant,
        budget: Duration,
    ) -> Result<(Reply, Worker), JqError> {
        let Worker {
            mut child,
            pipes,
            stderr,
            owner,
            uses,
        } = worker;
        let max_output = self.limits.max_output;
        let (tx, rx) = mpsc::channel();
        // The pipes are used on a thread of their own so the deadline can interrupt a worker
        // that never answers; killing the worker closes the pipes and ends this thread.
        let io = std::thread::Builder::new()
            .name("gitgate-jq-io".into())
            .spawn(move || {
                let mut pipes = pipes;
                let answer = worker::write_frame(&mut pipes.stdin, &request)
                    .and_then(|()| worker::read_frame(&mut pipes.stdout, max_output));
                let _ = tx.send((answer, pipes));
            });
        if let Err(e) = io {
            kill(&mut child);
            return Err(JqError::Sandbox(format!("cannot start its reader: {e}")));
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        let Ok((answer, pipes)) = rx.recv_timeout(timeout) else {
            kill(&mut child);
            return Err(JqError::Timeout(budget));
        };
        match answer {
            Ok(Some(frame)) => match serde_json::from_slice::<Reply>(&frame) {
                Ok(reply) => Ok((
                    reply,
                    Worker {
                        child,
                        pipes,
                        stderr,
                        owner,
                        uses,
                    },
                )),
                Err(_) => {
                    kill(&mut child);
                    Err(JqError::Sandbox("the worker's answer is unreadable".into()))
                }
            },
            Ok(None) => {
                kill(&mut child);
                Err(JqError::OutputTooLarge(max_output))
            }
            // The worker died mid-answer: read how.
            Err(_) => {
                drop(pipes);
                let status = child.wait();
                let mut said = Vec::new();
                let _ = stderr.take(4096).read_to_end(&mut said);
                match status {
                    Ok(status) => Err(self.death(status, &String::from_utf8_lossy(&said))),
                    Err(e) => Err(JqError::Sandbox(format!("cannot wait for the worker: {e}"))),
                }
            }
        }
    }

    /// Names the limit a worker that did not end normally ran into.
    fn death(&self, status: std::process::ExitStatus, stderr: &str) -> JqError {
        use std::os::unix::process::ExitStatusExt;
        const SIGKILL: i32 = 9;
        const SIGSEGV: i32 = 11;
        const SIGXCPU: i32 = 24;
        if stderr.contains("overflowed its stack") {
            return JqError::Recursion(self.limits.stack);
        }
        if stderr.contains("memory allocation of") || stderr.contains("capacity overflow") {
            return JqError::Memory(self.limits.memory);
        }
        match status.signal() {
            // The CPU limit sends SIGXCPU; we kill (SIGKILL) only at the deadline, which is
            // reported before this point, so a SIGKILL here is the kernel's (CPU or memory).
            Some(SIGXCPU | SIGKILL) => JqError::Fuel(self.limits.cpu_secs),
            // A fault with no message: the stack guard hit before the handler could report.
            Some(SIGSEGV) => JqError::Recursion(self.limits.stack),
            Some(sig) => JqError::Sandbox(format!("the worker stopped on signal {sig}")),
            None => JqError::Sandbox(format!(
                "the worker exited with {}",
                status.code().unwrap_or(-1)
            )),
        }
    }

    fn acquire(&self, user: &str, deadline: Instant) -> Result<SlotGuard<'_>, JqError> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let mine = |slots: &Slots| slots.per_user.get(user).copied().unwrap_or(0);
        if mine(&slots) >= self.limits.per_user {
            return Err(JqError::UserBusy(self.limits.per_user));
        }
        while slots.total >= self.limits.total {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(JqError::Busy);
            }
            slots = self
                .freed
                .wait_timeout(slots, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            if mine(&slots) >= self.limits.per_user {
                return Err(JqError::UserBusy(self.limits.per_user));
            }
        }
        slots.total += 1;
        *slots.per_user.entry(user.to_owned()).or_default() += 1;
        Ok(SlotGuard {
            sandbox: self,
            user: user.to_owned(),
        })
    }

    /// An idle worker of `user`'s, else a new one. Workers start on demand, not ahead: a
    /// server whose callers use no jq starts no process at all.
    fn take_worker(&self, user: &str) -> Result<Worker, JqError> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let taken = idle
            .iter()
            .rposition(|w| w.owner.as_deref() == Some(user))
            .map(|i| idle.remove(i));
        drop(idle);
        match taken {
            Some(mut w) => match w.child.try_wait() {
                Ok(None) => Ok(w),
                // It died while idle (killed by an operator, say): start another.
                _ => {
                    kill(&mut w.child);
                    spawn_worker(&self.program, &self.limits)
                }
            },
            None => spawn_worker(&self.program, &self.limits),
        }
    }

    fn put_back(&self, mut worker: Worker) {
        if worker.uses >= MAX_USES {
            kill(&mut worker.child);
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.push(worker);
        while idle.len() > MAX_IDLE {
            // The least recently used goes.
            let mut old = idle.remove(0);
            kill(&mut old.child);
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        for mut w in idle.drain(..) {
            kill(&mut w.child);
        }
    }
}

struct SlotGuard<'a> {
    sandbox: &'a Sandbox,
    user: String,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let mut slots = self.sandbox.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.total = slots.total.saturating_sub(1);
        if let Some(n) = slots.per_user.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                slots.per_user.remove(&self.user);
            }
        }
        self.sandbox.freed.notify_one();
    }
}

/// Starts `program jq-worker ...` with the limits on its command line, an empty environment and
/// all three standard streams piped. This is the one kind of process the server starts.
#[allow(clippy::disallowed_methods)]
fn spawn_worker(program: &std::path::Path, limits: &Limits) -> Result<Worker, JqError> {
    let mut child = std::process::Command::new(program)
        .arg(worker::SUBCOMMAND)
        .args(worker::limit_args(limits))
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| JqError::Sandbox(format!("cannot start a worker: {e}")))?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        kill(&mut child);
        return Err(JqError::Sandbox("the worker has no pipes".into()));
    };
    Ok(Worker {
        child,
        pipes: Pipes { stdin, stdout },
        stderr,
        owner: None,
        uses: 0,
    })
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
