//! Runs a [`Program`] on a simulated device and host, within [`Limits`], producing a [`Script`].

use super::expr::Expr;
use super::parse::{Arg, INTERNAL, Lock, Node, Piece, Program, Stmt, Wait};
use super::{DEFAULT_JITTER_MAX_MS, Options, Script, ScriptError, Step};
use crate::keymap::{SHIFT, char_to_key};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// Simulated time of one keystroke on a stock device (press report + release report), ms.
const STROKE_MS: u64 = 2;
/// Default simulated answer time of a `WAIT_FOR_*`, ms.
const DEFAULT_WAIT_MS: u64 = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Next,
    Return(u16),
    Stop,
    Restart,
}

struct Machine<'a> {
    prog: &'a Program,
    opt: &'a Options,
    vars: HashMap<String, u16>,
    rng: ChaCha8Rng,
    steps: u64,
    time_ms: u64,
    strokes: usize,
    out: Vec<Step>,
    default_delay_ms: u64,
    next_string_delay_ms: Option<u64>,
    default_string_delay_ms: u64,
    held: Vec<&'static str>,
    locks: [bool; 3],
    saved: [bool; 3],
    /// Set when a [`Limits`](super::Limits) error is raised.
    limit_hit: bool,
    /// A flow change raised inside an expression (a call that stopped or restarted the payload).
    halt: Option<Flow>,
}

fn lock_index(code: &str) -> Option<usize> {
    match code {
        "CapsLock" => Some(0),
        "NumLock" => Some(1),
        "ScrollLock" => Some(2),
        _ => None,
    }
}

impl<'a> Machine<'a> {
    fn err(&self, n: &Node, col: usize, reason: impl Into<String>) -> ScriptError {
        ScriptError {
            line: n.line,
            column: col,
            command: n.word.clone(),
            reason: reason.into(),
        }
    }

    fn reset_vars(&mut self) {
        self.vars.clear();
        let (requests, reply) = self.opt.target_os.host_signals();
        for (name, _) in INTERNAL {
            let v = match *name {
                "$_JITTER_MAX" => DEFAULT_JITTER_MAX_MS as u16,
                "$_RANDOM_MAX" => 9,
                "$_RANDOM_SEED" => (self.opt.seed & 0xffff) as u16,
                "$_OS" => self.opt.target_os.value(),
                "$_HOST_CONFIGURATION_REQUEST_COUNT" => requests,
                "$_RECEIVED_HOST_LOCK_LED_REPLY" => u16::from(reply),
                "$_BUTTON_ENABLED" | "$_SYSTEM_LEDS_ENABLED" | "$_STORAGE_LEDS_ENABLED" => 1,
                "$_BUTTON_USER_DEFINED" => u16::from(self.prog.button.is_some()),
                "$_BUTTON_TIMEOUT" | "$_STORAGE_ACTIVITY_TIMEOUT" => 1000,
                _ => 0,
            };
            self.vars.insert((*name).to_string(), v);
        }
        self.default_delay_ms = 0;
        self.next_string_delay_ms = None;
        self.default_string_delay_ms = 0;
    }

    fn tick(&mut self, n: &Node, cost: u64) -> Result<(), ScriptError> {
        self.steps += cost;
        if self.steps > self.opt.limits.max_steps {
            self.limit_hit = true;
            return Err(self.err(
                n,
                n.col,
                format!(
                    "the run exceeds {} steps (a loop or REPEAT that does not end soon enough)",
                    self.opt.limits.max_steps
                ),
            ));
        }
        Ok(())
    }

    fn wait(&mut self, n: &Node, ms: u64) -> Result<(), ScriptError> {
        if ms == 0 {
            return Ok(());
        }
        self.time_ms = self.time_ms.saturating_add(ms);
        if let Some(Step::Delay(d)) = self.out.last_mut() {
            *d = d.saturating_add(ms);
        } else {
            self.out.push(Step::Delay(ms));
        }
        self.check_time(n)
    }

    fn check_time(&mut self, n: &Node) -> Result<(), ScriptError> {
        if self.time_ms > self.opt.limits.max_time_ms {
            self.limit_hit = true;
            return Err(self.err(
                n,
                n.col,
                format!(
                    "the run exceeds {} ms of simulated time",
                    self.opt.limits.max_time_ms
                ),
            ));
        }
        Ok(())
    }

    fn stroke(
        &mut self,
        n: &Node,
        keys: Vec<&'static str>,
        extra_ms: u64,
    ) -> Result<(), ScriptError> {
        self.strokes += keys.len();
        if self.strokes > self.opt.limits.max_strokes {
            self.limit_hit = true;
            return Err(self.err(
                n,
                n.col,
                format!(
                    "payload expands to more than {} keystrokes",
                    self.opt.limits.max_strokes
                ),
            ));
        }
        if let Some(&k) = keys.last()
            && let Some(i) = lock_index(k)
        {
            self.locks[i] = !self.locks[i];
        }
        self.out.push(Step::Stroke {
            keys,
            extra_delay_ms: extra_ms,
        });
        self.time_ms = self.time_ms.saturating_add(STROKE_MS + extra_ms);
        self.check_time(n)
    }

    fn type_char(&mut self, n: &Node, c: char, extra_ms: u64) -> Result<(), ScriptError> {
        let (code, shift) = char_to_key(c).expect("checked while parsing");
        let keys = if shift { vec![SHIFT, code] } else { vec![code] };
        self.stroke(n, keys, extra_ms)
    }

    fn eval(&mut self, n: &Node, e: &Expr, depth: usize) -> Result<u16, ScriptError> {
        self.tick(n, 1)?;
        Ok(match e {
            Expr::Num(v) => *v,
            Expr::Var { name, col } => self.read(n, name, *col)?,
            Expr::Call { name, col } => {
                let (v, flow) = self.call(n, name, *col, depth)?;
                if matches!(flow, Flow::Stop | Flow::Restart) && self.halt.is_none() {
                    self.halt = Some(flow);
                }
                v
            }
            Expr::Not(x) => u16::from(self.eval(n, x, depth)? == 0),
            Expr::Bin { op, a, b, col } => {
                use super::expr::BinOp;
                let x = self.eval(n, a, depth)?;
                match op {
                    BinOp::And if x == 0 => return Ok(0),
                    BinOp::Or if x != 0 => return Ok(1),
                    _ => {}
                }
                let y = self.eval(n, b, depth)?;
                op.apply(x, y)
                    .ok_or_else(|| self.err(n, *col, "division by zero"))?
            }
        })
    }

    fn read(&mut self, n: &Node, name: &str, col: usize) -> Result<u16, ScriptError> {
        match name {
            "$_RANDOM_INT" => {
                let lo = self.vars["$_RANDOM_MIN"];
                let hi = self.vars["$_RANDOM_MAX"];
                let (lo, hi) = (lo.min(hi), lo.max(hi));
                Ok(self.rng.random_range(lo..=hi))
            }
            "$_CAPSLOCK_ON" => Ok(u16::from(self.locks[0])),
            "$_NUMLOCK_ON" => Ok(u16::from(self.locks[1])),
            "$_SCROLLLOCK_ON" => Ok(u16::from(self.locks[2])),
            "$_SAVED_CAPSLOCK_ON" => Ok(u16::from(self.saved[0])),
            "$_SAVED_NUMLOCK_ON" => Ok(u16::from(self.saved[1])),
            "$_SAVED_SCROLLLOCK_ON" => Ok(u16::from(self.saved[2])),
            _ => self
                .vars
                .get(name)
                .copied()
                .ok_or_else(|| self.err(n, col, format!("variable {name} is not declared"))),
        }
    }

    fn arg(&mut self, n: &Node, a: &Arg, depth: usize) -> Result<u64, ScriptError> {
        match a {
            Arg::Lit(v) => Ok(*v),
            Arg::Expr(e) => self.eval(n, e, depth).map(u64::from),
        }
    }

    fn call(
        &mut self,
        n: &Node,
        name: &str,
        col: usize,
        depth: usize,
    ) -> Result<(u16, Flow), ScriptError> {
        if depth + 1 > self.opt.limits.max_nesting {
            return Err(self.err(
                n,
                col,
                format!(
                    "calls nested deeper than {} (unbounded recursion?)",
                    self.opt.limits.max_nesting
                ),
            ));
        }
        let prog = self.prog;
        let body = prog
            .functions
            .get(name)
            .ok_or_else(|| self.err(n, col, format!("unknown function {name}")))?;
        Ok(match self.block(body, depth + 1)? {
            Flow::Return(v) => (v, Flow::Next),
            Flow::Next => (0, Flow::Next),
            f => (0, f),
        })
    }

    fn block(&mut self, nodes: &'a [Node], depth: usize) -> Result<Flow, ScriptError> {
        for n in nodes {
            let f = self.exec(n, nodes, depth)?;
            if f != Flow::Next {
                return Ok(f);
            }
        }
        Ok(Flow::Next)
    }

    fn exec(
        &mut self,
        n: &'a Node,
        siblings: &'a [Node],
        depth: usize,
    ) -> Result<Flow, ScriptError> {
        self.tick(n, 1)?;
        let mut content = true;
        match &n.stmt {
            Stmt::Type { pieces, newline } => {
                let d = self
                    .next_string_delay_ms
                    .take()
                    .unwrap_or(self.default_string_delay_ms);
                for p in pieces {
                    match p {
                        Piece::Text(t) => {
                            for c in t.chars() {
                                self.type_char(n, c, d)?;
                            }
                        }
                        Piece::Var(v) => {
                            let value = self.read(n, v, n.col)?.to_string();
                            for c in value.chars() {
                                self.type_char(n, c, d)?;
                            }
                        }
                    }
                }
                if *newline {
                    self.stroke(n, vec!["Enter"], 0)?;
                }
            }
            Stmt::Keys(keys) => self.stroke(n, keys.clone(), 0)?,
            Stmt::Delay(a) => {
                let ms = self.arg(n, a, depth)?;
                self.wait(n, ms)?;
            }
            Stmt::DefaultDelay(a) => {
                self.default_delay_ms = self.arg(n, a, depth)?;
                content = false;
            }
            Stmt::StringDelay(a) => {
                self.next_string_delay_ms = Some(self.arg(n, a, depth)?);
                content = false;
            }
            Stmt::DefaultStringDelay(a) => {
                self.default_string_delay_ms = self.arg(n, a, depth)?;
                content = false;
            }
            Stmt::Hold(k) => {
                if !self.held.contains(k) {
                    self.held.push(k);
                    self.strokes += 1;
                    self.out.push(Step::Hold(k));
                }
            }
            Stmt::Release(k) => {
                if let Some(i) = self.held.iter().position(|h| h == k) {
                    self.held.remove(i);
                    self.out.push(Step::Release(k));
                }
            }
            Stmt::Reset => {
                for k in std::mem::take(&mut self.held) {
                    self.out.push(Step::Release(k));
                }
            }
            Stmt::Assign { var, op, expr } => {
                content = false;
                let v = self.eval(n, expr, depth)?;
                let v = match op {
                    None => v,
                    Some(op) => {
                        let old = self.read(n, var, n.col)?;
                        op.apply(old, v)
                            .ok_or_else(|| self.err(n, n.col, "division by zero"))?
                    }
                };
                self.vars.insert(var.clone(), v);
                match var.as_str() {
                    "$_JITTER_ENABLED" => self.out.push(Step::Jitter(v != 0)),
                    "$_JITTER_MAX" => self.out.push(Step::JitterMax(u64::from(v))),
                    _ => {}
                }
            }
            Stmt::If { arms, otherwise } => {
                let mut chosen: &'a [Node] = otherwise;
                for (c, body) in arms {
                    if self.eval(n, c, depth)? != 0 {
                        chosen = body;
                        break;
                    }
                    if self.halt.is_some() {
                        break;
                    }
                }
                if let Some(f) = self.halt.take() {
                    return Ok(f);
                }
                return self.block(chosen, depth);
            }
            Stmt::While { cond, body } => {
                loop {
                    self.tick(n, 1)?;
                    let c = self.eval(n, cond, depth)?;
                    if let Some(f) = self.halt.take() {
                        return Ok(f);
                    }
                    if c == 0 {
                        break;
                    }
                    let f = self.block(body, depth)?;
                    if f != Flow::Next {
                        return Ok(f);
                    }
                }
                return Ok(Flow::Next);
            }
            Stmt::Call(name) => {
                let (_, f) = self.call(n, name, n.col, depth)?;
                if f != Flow::Next {
                    return Ok(f);
                }
                content = false;
            }
            Stmt::Return(e) => {
                let v = match e {
                    Some(e) => self.eval(n, e, depth)?,
                    None => 0,
                };
                return Ok(self.halt.take().unwrap_or(Flow::Return(v)));
            }
            Stmt::Repeat { target, count } => {
                let times = self.arg(n, count, depth)?;
                if times > super::MAX_REPEAT {
                    return Err(self.err(
                        n,
                        n.col,
                        format!("{times} exceeds the limit {}", super::MAX_REPEAT),
                    ));
                }
                let t = &siblings[*target];
                for _ in 0..times {
                    // A limit reached while repeating is the REPEAT's doing: locate it there.
                    let f = self.exec(t, siblings, depth).map_err(|e| {
                        if self.limit_hit {
                            self.err(n, n.col, e.reason)
                        } else {
                            e
                        }
                    })?;
                    if f != Flow::Next {
                        return Ok(f);
                    }
                }
                content = false;
            }
            Stmt::Random(set) => {
                let bytes = set.as_bytes();
                let c = bytes[self.rng.random_range(0..bytes.len())] as char;
                self.type_char(n, c, 0)?;
            }
            Stmt::Wait(w) => {
                let ms = if self.opt.wait_ms == 0 {
                    DEFAULT_WAIT_MS
                } else {
                    self.opt.wait_ms
                };
                self.wait(n, ms)?;
                match w {
                    Wait::Button => {
                        self.vars.insert("$_BUTTON_PUSH_RECEIVED".into(), 1);
                    }
                    Wait::Lock(l, want) => {
                        let i = match l {
                            Lock::Caps => 0,
                            Lock::Num => 1,
                            Lock::Scroll => 2,
                        };
                        self.locks[i] = want.unwrap_or(!self.locks[i]);
                    }
                    Wait::Storage => {}
                }
                content = false;
            }
            Stmt::SaveLocks => {
                self.saved = self.locks;
                content = false;
            }
            Stmt::RestoreLocks => {
                for (i, code) in ["CapsLock", "NumLock", "ScrollLock"]
                    .into_iter()
                    .enumerate()
                {
                    if self.locks[i] != self.saved[i] {
                        self.stroke(n, vec![code], 0)?;
                    }
                }
            }
            Stmt::ButtonDef => content = false,
            Stmt::Button(on) => {
                self.vars.insert("$_BUTTON_ENABLED".into(), u16::from(*on));
                content = false;
            }
            Stmt::Stop => return Ok(Flow::Stop),
            Stmt::Restart => return Ok(Flow::Restart),
            Stmt::Block(body) => return self.block(body, depth),
            Stmt::NoOp => content = false,
        }
        if let Some(f) = self.halt.take() {
            return Ok(f);
        }
        if content && self.default_delay_ms > 0 {
            self.wait(n, self.default_delay_ms)?;
        }
        Ok(Flow::Next)
    }
}

/// Runs a program (see the module docs of [`super`]).
pub(crate) fn run(prog: &Program, opt: &Options) -> Result<Script, ScriptError> {
    let mut m = Machine {
        prog,
        opt,
        vars: HashMap::new(),
        rng: ChaCha8Rng::seed_from_u64(opt.seed),
        steps: 0,
        time_ms: 0,
        strokes: 0,
        out: Vec::new(),
        default_delay_ms: 0,
        next_string_delay_ms: None,
        default_string_delay_ms: 0,
        held: Vec::new(),
        locks: [false; 3],
        saved: [false; 3],
        halt: None,
        limit_hit: false,
    };
    for round in 0..=opt.limits.max_restarts {
        m.reset_vars();
        if round > 0 {
            m.out.push(Step::Jitter(false));
            m.out.push(Step::JitterMax(DEFAULT_JITTER_MAX_MS));
        }
        if m.block(&prog.body, 0)? != Flow::Restart {
            break;
        }
    }
    Ok(Script { steps: m.out })
}
