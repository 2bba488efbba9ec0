//! DuckyScript 3 expressions: 16-bit unsigned integers and booleans (1/0), parsed by precedence climbing.

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    BitOr,
    BitAnd,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Shl,
    Shr,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

impl BinOp {
    /// (precedence, right-associative)
    fn info(self) -> (u8, bool) {
        use BinOp::*;
        match self {
            Or => (1, false),
            And => (2, false),
            BitOr => (3, false),
            BitAnd => (4, false),
            Eq | Ne => (5, false),
            Lt | Le | Gt | Ge => (6, false),
            Shl | Shr => (7, false),
            Add | Sub => (8, false),
            Mul | Div | Rem => (9, false),
            Pow => (10, true),
        }
    }

    /// The operator of an augmented assignment (`+=` → `Add`); `None` for other text.
    pub(crate) fn augmented(op: &str) -> Option<BinOp> {
        use BinOp::*;
        Some(match op {
            "+=" => Add,
            "-=" => Sub,
            "*=" => Mul,
            "/=" => Div,
            "%=" => Rem,
            "^=" => Pow,
            "&=" => BitAnd,
            "|=" => BitOr,
            "<<=" => Shl,
            ">>=" => Shr,
            _ => return None,
        })
    }

    /// Applies a non-short-circuit operator with 16-bit wrapping; `None` for division by zero.
    pub(crate) fn apply(self, a: u16, b: u16) -> Option<u16> {
        use BinOp::*;
        Some(match self {
            Or => u16::from(a != 0 || b != 0),
            And => u16::from(a != 0 && b != 0),
            BitOr => a | b,
            BitAnd => a & b,
            Eq => u16::from(a == b),
            Ne => u16::from(a != b),
            Lt => u16::from(a < b),
            Le => u16::from(a <= b),
            Gt => u16::from(a > b),
            Ge => u16::from(a >= b),
            Shl => a.checked_shl(u32::from(b)).unwrap_or(0),
            Shr => a.checked_shr(u32::from(b)).unwrap_or(0),
            Add => a.wrapping_add(b),
            Sub => a.wrapping_sub(b),
            Mul => a.wrapping_mul(b),
            Div => a.checked_div(b)?,
            Rem => a.checked_rem(b)?,
            Pow => a.wrapping_pow(u32::from(b)),
        })
    }
}

/// An expression; `col` fields are 1-based columns in the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    Num(u16),
    Var {
        name: String,
        col: usize,
    },
    Call {
        name: String,
        col: usize,
    },
    Not(Box<Expr>),
    Bin {
        op: BinOp,
        a: Box<Expr>,
        b: Box<Expr>,
        col: usize,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Num(u32),
    Var(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
}

const OPS: [&str; 18] = [
    "<<", ">>", "==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "^", "<", ">", "&",
    "|",
];

/// A parse problem: (1-based column, reason).
pub(crate) type ExprError = (usize, String);

fn lex(text: &str, col0: usize) -> Result<Vec<(Tok, usize)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = col0 + i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let ident = |i: &mut usize| {
            let s = *i;
            while *i < chars.len() && (chars[*i].is_ascii_alphanumeric() || chars[*i] == '_') {
                *i += 1;
            }
            chars[s..*i].iter().collect::<String>()
        };
        if c.is_ascii_digit() {
            let s = ident(&mut i);
            match s.parse::<u32>() {
                Ok(v) if v <= u32::from(u16::MAX) => out.push((Tok::Num(v), col)),
                Ok(_) | Err(_) if s.bytes().all(|b| b.is_ascii_digit()) => {
                    return Err((col, format!("{s} is out of the 16-bit range 0..=65535")));
                }
                _ => return Err((col, format!("not a number: {s:?}"))),
            }
        } else if c == '$' {
            i += 1;
            let s = ident(&mut i);
            if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
                return Err((col, "expected a variable name after `$`".into()));
            }
            out.push((Tok::Var(format!("${s}")), col));
        } else if c.is_ascii_alphabetic() || c == '_' {
            out.push((Tok::Ident(ident(&mut i)), col));
        } else if c == '(' {
            out.push((Tok::LParen, col));
            i += 1;
        } else if c == ')' {
            out.push((Tok::RParen, col));
            i += 1;
        } else if c == '!' && chars.get(i + 1) != Some(&'=') {
            out.push((Tok::Op("!"), col));
            i += 1;
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            match OPS.iter().find(|op| rest.starts_with(**op)) {
                Some(op) => {
                    out.push((Tok::Op(op), col));
                    i += op.len();
                }
                None => return Err((col, format!("unexpected character {c:?}"))),
            }
        }
    }
    Ok(out)
}

fn bin_op(op: &str) -> Option<BinOp> {
    use BinOp::*;
    Some(match op {
        "||" => Or,
        "&&" => And,
        "|" => BitOr,
        "&" => BitAnd,
        "==" => Eq,
        "!=" => Ne,
        "<" => Lt,
        "<=" => Le,
        ">" => Gt,
        ">=" => Ge,
        "<<" => Shl,
        ">>" => Shr,
        "+" => Add,
        "-" => Sub,
        "*" => Mul,
        "/" => Div,
        "%" => Rem,
        "^" => Pow,
        _ => return None,
    })
}

/// Names an identifier may take in an expression besides function calls: `TRUE`, `FALSE` and the OS
/// constants. Returns the value.
fn constant(name: &str) -> Option<u16> {
    match name {
        "TRUE" => Some(1),
        "FALSE" => Some(0),
        _ => super::TargetOs::ALL
            .iter()
            .find(|o| o.name() == name)
            .map(|o| o.value()),
    }
}

struct P<'a> {
    toks: &'a [(Tok, usize)],
    i: usize,
    end_col: usize,
    depth: usize,
    max_depth: usize,
}

impl P<'_> {
    fn col(&self) -> usize {
        self.toks.get(self.i).map_or(self.end_col, |t| t.1)
    }

    /// Checks the height of a tree being built (evaluation and drop recurse over it).
    fn height(&self, h: usize, col: usize) -> Result<usize, ExprError> {
        if h > self.max_depth {
            Err((
                col,
                format!("expression nested deeper than {}", self.max_depth),
            ))
        } else {
            Ok(h)
        }
    }

    /// A primary and its tree height.
    fn primary(&mut self) -> Result<(Expr, usize), ExprError> {
        let col = self.col();
        self.depth += 1;
        self.height(self.depth, col)?;
        let tok = self.toks.get(self.i).cloned();
        self.i += 1;
        let e = match tok {
            Some((Tok::Num(v), _)) => (Expr::Num(v as u16), 1),
            Some((Tok::Var(name), col)) => (Expr::Var { name, col }, 1),
            Some((Tok::Ident(name), col)) => {
                if self.toks.get(self.i).map(|t| &t.0) == Some(&Tok::LParen)
                    && self.toks.get(self.i + 1).map(|t| &t.0) == Some(&Tok::RParen)
                {
                    self.i += 2;
                    (Expr::Call { name, col }, 1)
                } else if let Some(v) = constant(&name) {
                    (Expr::Num(v), 1)
                } else {
                    return Err((
                        col,
                        format!("unknown name {name:?} (a variable needs `$`, a call `()`)"),
                    ));
                }
            }
            Some((Tok::Op("!"), col)) => {
                let (e, h) = self.primary()?;
                (Expr::Not(Box::new(e)), self.height(h + 1, col)?)
            }
            Some((Tok::LParen, col)) => {
                let e = self.expr(0)?;
                if self.toks.get(self.i).map(|t| &t.0) != Some(&Tok::RParen) {
                    return Err((col, "`(` not closed".into()));
                }
                self.i += 1;
                e
            }
            Some((t, col)) => return Err((col, format!("unexpected {t:?}"))),
            None => return Err((col, "expression expected".into())),
        };
        self.depth -= 1;
        Ok(e)
    }

    /// An expression whose operators bind at least `min_prec`, and its tree height.
    fn expr(&mut self, min_prec: u8) -> Result<(Expr, usize), ExprError> {
        let (mut lhs, mut h) = self.primary()?;
        while let Some((Tok::Op(op), col)) = self.toks.get(self.i).cloned() {
            let Some(bop) = bin_op(op) else {
                return Err((col, format!("unexpected `{op}`")));
            };
            let (prec, right) = bop.info();
            if prec < min_prec {
                break;
            }
            self.i += 1;
            self.depth += 1;
            self.height(self.depth, col)?;
            let (rhs, hr) = self.expr(if right { prec } else { prec + 1 })?;
            self.depth -= 1;
            h = self.height(1 + h.max(hr), col)?;
            lhs = Expr::Bin {
                op: bop,
                a: Box::new(lhs),
                b: Box::new(rhs),
                col,
            };
        }
        Ok((lhs, h))
    }
}

/// Parses `text` (starting at 1-based column `col0` of its line) as one whole expression, nested at most
/// `max_depth` deep.
pub(crate) fn parse_expr(text: &str, col0: usize, max_depth: usize) -> Result<Expr, ExprError> {
    let toks = lex(text, col0)?;
    let end_col = col0 + text.chars().count();
    let mut p = P {
        toks: &toks,
        i: 0,
        end_col,
        depth: 0,
        max_depth,
    };
    let (e, _) = p.expr(0)?;
    if p.i < toks.len() {
        return Err((
            toks[p.i].1,
            format!("unexpected {:?} after the expression", toks[p.i].0),
        ));
    }
    Ok(e)
}

/// Every `$NAME` variable an expression reads, with its column.
pub(crate) fn vars(e: &Expr, out: &mut Vec<(String, usize)>) {
    match e {
        Expr::Var { name, col } => out.push((name.clone(), *col)),
        Expr::Not(x) => vars(x, out),
        Expr::Bin { a, b, .. } => {
            vars(a, out);
            vars(b, out);
        }
        Expr::Num(_) | Expr::Call { .. } => {}
    }
}
