//! Tokenizer and recursive-descent parser for lme4-style formula text.
//!
//! Grammar (R's operator precedence, loosest first):
//!
//! ```text
//! formula  := response '~' sum
//! sum      := ['-'] product (('+' | '-') product)*
//! product  := inter ('*' inter)*            a*b  = a + b + a:b
//! inter    := atom (':' atom)*              a:b  = interaction
//! atom     := '0' | '1' | call | name | '(' sum ')' | '(' sum '|' group ')'
//! call     := name '(' expr (',' expr)* ')' (factor, log, offset, cbind)
//! group    := name (':' name)*
//! ```
//!
//! The parser builds a small syntax tree ([`Node`]); [`super::expand`] turns it into terms.

use crate::core::error::{Error, Result};

/// A value expression: a column, or a function of columns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Expr {
    /// A column used as it is (numeric, 0/1, or a text column, which becomes a factor).
    Column(String),
    /// `factor(x)`: the column's distinct values as levels.
    Factor(String),
    /// `log(x)`: natural logarithm of a numeric column.
    Log(Box<Expr>),
    /// `a - b`, only inside `cbind(...)` (e.g. `cbind(events, trials - events)`).
    Minus(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// The column this expression reads (the first one for `a - b`).
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Expr::Column(c) | Expr::Factor(c) => vec![c],
            Expr::Log(e) => e.columns(),
            Expr::Minus(a, b) => {
                let mut v = a.columns();
                v.extend(b.columns());
                v
            }
        }
    }
}

impl std::fmt::Display for Expr {
    /// R's deparsed spelling, which is also the stem of coefficient names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expr::Column(c) => f.write_str(c),
            Expr::Factor(c) => write!(f, "factor({c})"),
            Expr::Log(e) => write!(f, "log({e})"),
            Expr::Minus(a, b) => write!(f, "{a} - {b}"),
        }
    }
}

/// Syntax tree of the right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    One,
    Zero,
    Var(Expr),
    Offset(Expr),
    /// A random-effect term `(lhs | group)`; `text` is the term as written.
    Random {
        lhs: Box<Node>,
        group: Vec<String>,
        text: String,
    },
    Add(Box<Node>, Box<Node>),
    Sub(Box<Node>, Box<Node>),
    /// Leading minus: `- 1`.
    Neg(Box<Node>),
    Mul(Box<Node>, Box<Node>),
    Colon(Box<Node>, Box<Node>),
}

/// The left-hand side: a response column, or `cbind(successes, failures)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lhs {
    Single(Expr),
    Cbind(Expr, Expr),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Num(String),
    Sym(char),
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

/// Parse `text` into the response and right-hand-side tree.
pub(crate) fn parse(text: &str) -> Result<(Lhs, Node)> {
    let toks = tokenize(text)?;
    let mut p = Parser { text, toks, pos: 0 };
    let lhs = p.lhs()?;
    p.expect('~')?;
    let rhs = p.sum()?;
    if let Some((t, at)) = p.toks.get(p.pos) {
        return Err(p.err(*at, format!("unexpected {}", describe(t))));
    }
    Ok((lhs, rhs))
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '.' || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].1.is_alphanumeric() || chars[i].1 == '.' || chars[i].1 == '_')
            {
                i += 1;
            }
            let s: String = chars[start..i].iter().map(|(_, c)| c).collect();
            out.push((Tok::Name(s), char_pos(text, at)));
        } else if c == '`' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i].1 != '`' {
                i += 1;
            }
            if i == chars.len() {
                return Err(formula_err(
                    text,
                    char_pos(text, at),
                    "unterminated backquote",
                ));
            }
            let s: String = chars[start..i].iter().map(|(_, c)| c).collect();
            out.push((Tok::Name(s), char_pos(text, at)));
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].1.is_ascii_digit() || chars[i].1 == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().map(|(_, c)| c).collect();
            out.push((Tok::Num(s), char_pos(text, at)));
        } else if "~+-*:|(),".contains(c) {
            out.push((Tok::Sym(c), char_pos(text, at)));
            i += 1;
        } else {
            return Err(formula_err(
                text,
                char_pos(text, at),
                format!("unexpected character '{c}'"),
            ));
        }
    }
    Ok(out)
}

/// Character (not byte) offset of byte offset `at`.
fn char_pos(text: &str, at: usize) -> usize {
    text[..at].chars().count()
}

fn formula_err(text: &str, position: usize, message: impl Into<String>) -> Error {
    Error::Formula {
        formula: text.to_string(),
        position,
        message: message.into(),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Name(s) => format!("name '{s}'"),
        Tok::Num(s) => format!("number '{s}'"),
        Tok::Sym(c) => format!("'{c}'"),
    }
}

impl Parser<'_> {
    fn err(&self, at: usize, message: impl Into<String>) -> Error {
        formula_err(self.text, at, message)
    }

    fn here(&self) -> usize {
        self.toks
            .get(self.pos)
            .map_or(self.text.chars().count(), |(_, at)| *at)
    }

    fn peek_sym(&self, c: char) -> bool {
        matches!(self.toks.get(self.pos), Some((Tok::Sym(s), _)) if *s == c)
    }

    fn expect(&mut self, c: char) -> Result<()> {
        if self.peek_sym(c) {
            self.pos += 1;
            Ok(())
        } else {
            let found = self
                .toks
                .get(self.pos)
                .map_or("the end of the formula".to_string(), |(t, _)| describe(t));
            Err(self.err(self.here(), format!("expected '{c}', found {found}")))
        }
    }

    fn name(&mut self) -> Result<String> {
        match self.toks.get(self.pos) {
            Some((Tok::Name(s), _)) => {
                self.pos += 1;
                Ok(s.clone())
            }
            Some((t, at)) => Err(self.err(
                *at,
                format!("expected a column name, found {}", describe(t)),
            )),
            None => Err(self.err(
                self.here(),
                "expected a column name, found the end of the formula",
            )),
        }
    }

    fn lhs(&mut self) -> Result<Lhs> {
        if self.peek_sym('~') {
            return Err(self.err(self.here(), "the formula needs a response before '~'"));
        }
        let at = self.here();
        let name = self.name()?;
        if name == "cbind" && self.peek_sym('(') {
            self.pos += 1;
            let s = self.value_expr()?;
            self.expect(',')?;
            let f = self.value_expr()?;
            self.expect(')')?;
            return Ok(Lhs::Cbind(s, f));
        }
        self.pos -= 1;
        match self.call_or_name()? {
            Node::Var(e) => Ok(Lhs::Single(e)),
            _ => Err(self.err(
                at,
                "the response must be a column or cbind(successes, failures)",
            )),
        }
    }

    /// A value inside `cbind(...)`: `name`, `f(name)` or `a - b`.
    fn value_expr(&mut self) -> Result<Expr> {
        let at = self.here();
        let first = match self.call_or_name()? {
            Node::Var(e) => e,
            _ => return Err(self.err(at, "expected a column inside cbind()")),
        };
        if self.peek_sym('-') {
            self.pos += 1;
            let at = self.here();
            match self.call_or_name()? {
                Node::Var(e) => return Ok(Expr::Minus(Box::new(first), Box::new(e))),
                _ => return Err(self.err(at, "expected a column after '-'")),
            }
        }
        Ok(first)
    }

    fn sum(&mut self) -> Result<Node> {
        let mut node = if self.peek_sym('-') {
            self.pos += 1;
            Node::Neg(Box::new(self.product()?))
        } else {
            self.product()?
        };
        loop {
            if self.peek_sym('+') {
                self.pos += 1;
                node = Node::Add(Box::new(node), Box::new(self.product()?));
            } else if self.peek_sym('-') {
                self.pos += 1;
                node = Node::Sub(Box::new(node), Box::new(self.product()?));
            } else {
                return Ok(node);
            }
        }
    }

    fn product(&mut self) -> Result<Node> {
        self.left_associative('*', Self::inter, Node::Mul)
    }

    fn inter(&mut self) -> Result<Node> {
        self.left_associative(':', Self::atom, Node::Colon)
    }

    /// `operand (symbol operand)*`, joined from the left by `join`.
    fn left_associative(
        &mut self,
        symbol: char,
        operand: fn(&mut Self) -> Result<Node>,
        join: fn(Box<Node>, Box<Node>) -> Node,
    ) -> Result<Node> {
        let mut node = operand(self)?;
        while self.peek_sym(symbol) {
            self.pos += 1;
            node = join(Box::new(node), Box::new(operand(self)?));
        }
        Ok(node)
    }

    fn atom(&mut self) -> Result<Node> {
        let at = self.here();
        match self.toks.get(self.pos).cloned() {
            Some((Tok::Num(n), _)) => {
                self.pos += 1;
                match n.as_str() {
                    "1" => Ok(Node::One),
                    "0" => Ok(Node::Zero),
                    _ => Err(self.err(
                        at,
                        format!("a number in a formula must be 0 or 1, found {n}"),
                    )),
                }
            }
            Some((Tok::Sym('('), _)) => {
                self.pos += 1;
                let inner = self.sum()?;
                if self.peek_sym('|') {
                    self.pos += 1;
                    let mut group = vec![self.name()?];
                    while self.peek_sym(':') {
                        self.pos += 1;
                        group.push(self.name()?);
                    }
                    let end = self.here();
                    self.expect(')')?;
                    let text: String = self.text.chars().skip(at).take(end + 1 - at).collect();
                    return Ok(Node::Random {
                        lhs: Box::new(inner),
                        group,
                        text,
                    });
                }
                self.expect(')')?;
                Ok(inner)
            }
            Some((Tok::Name(_), _)) => self.call_or_name(),
            Some((t, at)) => Err(self.err(at, format!("expected a term, found {}", describe(&t)))),
            None => Err(self.err(at, "expected a term, found the end of the formula")),
        }
    }

    /// `name` or `fn(args)` for the functions a formula may use.
    fn call_or_name(&mut self) -> Result<Node> {
        let at = self.here();
        let name = self.name()?;
        if !self.peek_sym('(') {
            return Ok(Node::Var(Expr::Column(name)));
        }
        self.pos += 1;
        let node = match name.as_str() {
            "factor" | "as.factor" => Node::Var(Expr::Factor(self.name()?)),
            "log" => Node::Var(Expr::Log(Box::new(self.column_or_call()?))),
            "offset" => Node::Offset(self.column_or_call()?),
            other => {
                return Err(self.err(
                    at,
                    format!(
                        "unsupported function '{other}' (supported: factor, log, offset, cbind)"
                    ),
                ))
            }
        };
        self.expect(')')?;
        Ok(node)
    }

    fn column_or_call(&mut self) -> Result<Expr> {
        let at = self.here();
        match self.call_or_name()? {
            Node::Var(e) => Ok(e),
            _ => Err(self.err(at, "expected a column")),
        }
    }
}
