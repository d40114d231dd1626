//! Tokenizer and parser for lme4-style formula text.
//!
//! Grammar (R's operator precedence, loosest first):
//!
//! ```text
//! formula  := response '~' sum
//! sum      := ['-'] product (('+' | '-') product)*
//! product  := inter ('*' inter)*            a*b  = a + b + a:b
//! inter    := atom (':' atom)*              a:b  = interaction
//! atom     := '0' | '1' | call | name | '(' sum ')' | '(' sum ('|' | '||') nesting ')'
//! call     := 'factor(' name ')' | f '(' expr ')' | 'poly(' expr ',' degree ')'
//!             | 'offset(' expr ')'                 f: I, log, exp, sqrt, scale
//! nesting  := group ('/' group)*            (1 | a/b) = (1 | a) + (1 | a:b)
//! group    := name (':' name)*
//! expr     := R's expression: numbers, names, calls, '(' expr ')', unary '-' and '!',
//!             binary ^ * / + - > >= < <= == != & | with R's precedence
//! ```
//!
//! Inside a function call (and `cbind()`), `+ - * ^ |` are R's arithmetic and logical
//! operators, not the formula's: `I(a + b)` is one variable, the sum of a and b.
//!
//! A random-effect term expands as lme4's `findbars` expands it: `(lhs | a/b/c)` is one term per
//! grouping `a`, `a:b`, `a:b:c`, and `(1 + x || g)` (uncorrelated effects) is `(1 | g) + (0 + x | g)`,
//! one term per effect.
//!
//! The right-hand side is read in one pass, without recursion: the parentheses open at a point
//! are an explicit stack, each holding the sum, crossing and interaction read so far inside it,
//! already expanded into terms ([`TermSet`]: R's formula algebra, each operator applied from the
//! left). Function calls (`log(log(x))`) are read in a loop. The nesting of parentheses,
//! random-effect terms and calls together is refused beyond [`MAX_NESTING`] levels, so neither
//! the input's length nor its nesting reaches the call stack, and an expression ([`Expr`]) is
//! at most [`MAX_NESTING`] deep. Expressions inside calls are read by precedence climbing,
//! whose recursion counts as nesting too.

use super::{RandomTerm, Term};
use crate::core::error::{Error, Result};

/// The deepest nesting a formula may have: parentheses, random-effect terms `( ... | g)` and
/// function calls (`factor(`, `log(`, `I(`, `offset(`, `cbind(`, ...) opened inside one
/// another, and operators inside expressions, counted together. A formula nested deeper is
/// refused with [`Error::Formula`] at the opening
/// parenthesis that goes past the limit (real formulas nest a few levels).
pub const MAX_NESTING: usize = 256;

/// The text of one term of an expanded random-effect term, as lme4 writes it: `(1 | a:b)`,
/// `(0 + x | g)`, `(1 + x | g)`.
fn random_term_text(intercept: bool, slopes: &[Term], group: &[String]) -> String {
    let mut lhs = vec![if intercept { "1" } else { "0" }.to_string()];
    lhs.extend(slopes.iter().map(|t| {
        let vars: Vec<String> = t.vars.iter().map(super::written).collect();
        vars.join(":")
    }));
    let group: Vec<String> = group.iter().map(|g| super::quote(g)).collect();
    format!("({} | {})", lhs.join(" + "), group.join(":"))
}

/// A value expression: a column, a function of columns, or (inside a function call such as
/// `I()`, and inside `cbind()`) R arithmetic, comparisons and logical operators on them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Expr {
    /// A column used as it is (numeric, 0/1, or a text column, which becomes a factor).
    Column(String),
    /// `factor(x)`: the column's distinct values as levels.
    Factor(String),
    /// `log(x)`: natural logarithm; the argument must be positive.
    Log(Box<Expr>),
    /// `exp(x)`.
    Exp(Box<Expr>),
    /// `sqrt(x)`: the argument must be at least 0.
    Sqrt(Box<Expr>),
    /// `scale(x)`: `(x - mean) / sd`, the mean and SD (divisor n - 1) taken over the rows of the
    /// data where `x` is known, as R's `model.frame` evaluates `scale()` before it drops
    /// incomplete rows.
    Scale(Box<Expr>),
    /// `poly(x, degree)`: R's orthogonal polynomials of degree 1 to `degree`, one column each.
    Poly(Box<Expr>, usize),
    /// `I(x)`: the expression evaluated as R evaluates it.
    AsIs(Box<Expr>),
    /// A number.
    Number(Number),
    /// `(x)`, kept so that a term prints as R deparses it.
    Paren(Box<Expr>),
    /// `-x`.
    Negate(Box<Expr>),
    /// `!x`: 1 where x is 0, else 0 (logical).
    Not(Box<Expr>),
    /// `a op b`: arithmetic, a comparison or a logical operator.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
}

/// A number in an expression, kept as the bits of its `f64` so that expressions compare and
/// hash exactly. It prints as R's `deparse` prints a number: at most 15 significant digits,
/// in fixed notation unless scientific notation is shorter (`100000` prints `1e+05`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "f64", from = "f64")]
pub struct Number(u64);

impl From<f64> for Number {
    fn from(value: f64) -> Number {
        Number::new(value)
    }
}

impl From<Number> for f64 {
    fn from(number: Number) -> f64 {
        number.value()
    }
}

impl Number {
    /// The number `value`.
    pub fn new(value: f64) -> Number {
        Number(value.to_bits())
    }

    /// Its value.
    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.value();
        if x == 0.0 {
            return f.write_str("0");
        }
        // The significant digits (at most 15, trailing zeros dropped) and the exponent.
        let sci = format!("{:.14e}", x.abs());
        let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let digits = digits.trim_end_matches('0');
        let sign = if x < 0.0 { "-" } else { "" };
        let decimals = (digits.len() as i32 - exponent - 1).max(0) as usize;
        let fixed = format!("{sign}{:.*}", decimals, x.abs());
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let e_sign = if exponent < 0 { '-' } else { '+' };
        let scientific = format!("{sign}{first}{point}{rest}e{e_sign}{:02}", exponent.abs());
        f.write_str(if fixed.len() <= scientific.len() {
            &fixed
        } else {
            &scientific
        })
    }
}

/// A binary operator inside an expression, in R's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `^`
    Pow,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `&`: logical and (a number is true when it is not 0).
    And,
    /// `|`: logical or.
    Or,
}

impl BinaryOp {
    /// The operator as R deparses it, with its spacing: `x^2`, `x/2`, `x * 2`, `x > 2`.
    fn spelled(self) -> &'static str {
        match self {
            BinaryOp::Add => " + ",
            BinaryOp::Sub => " - ",
            BinaryOp::Mul => " * ",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
            BinaryOp::Gt => " > ",
            BinaryOp::Ge => " >= ",
            BinaryOp::Lt => " < ",
            BinaryOp::Le => " <= ",
            BinaryOp::Eq => " == ",
            BinaryOp::Ne => " != ",
            BinaryOp::And => " & ",
            BinaryOp::Or => " | ",
        }
    }

    /// Whether the result is logical (a comparison or a logical operator).
    pub fn is_logical(self) -> bool {
        !matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Pow
        )
    }

    /// R's precedence (higher binds tighter) and whether the operator groups from the right.
    fn precedence(self) -> (u8, bool) {
        match self {
            BinaryOp::Or => (1, false),
            BinaryOp::And => (2, false),
            BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Eq
            | BinaryOp::Ne => (4, false),
            BinaryOp::Add | BinaryOp::Sub => (5, false),
            BinaryOp::Mul | BinaryOp::Div => (6, false),
            BinaryOp::Pow => (8, true),
        }
    }
}

/// Precedence of `!` (below comparisons: `!x > 2` is `!(x > 2)`) and of unary minus (below
/// `^`: `-x^2` is `-(x^2)`).
const NOT_PRECEDENCE: u8 = 3;
const NEGATE_PRECEDENCE: u8 = 7;

impl Expr {
    /// The columns this expression reads, in order of appearance (with repeats).
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Expr::Column(c) | Expr::Factor(c) => vec![c],
            Expr::Number(_) => Vec::new(),
            Expr::Log(e)
            | Expr::Exp(e)
            | Expr::Sqrt(e)
            | Expr::Scale(e)
            | Expr::Poly(e, _)
            | Expr::AsIs(e)
            | Expr::Paren(e)
            | Expr::Negate(e)
            | Expr::Not(e) => e.columns(),
            Expr::Binary(_, a, b) => {
                let mut v = a.columns();
                v.extend(b.columns());
                v
            }
        }
    }

    /// Whether the value is logical (TRUE/FALSE), as R types it: a comparison, `&`, `|` or `!`,
    /// possibly inside `I()` or parentheses. In a design a logical is a factor with the levels
    /// `FALSE` and `TRUE` (`I(week > 2)TRUE`).
    pub fn is_logical(&self) -> bool {
        match self {
            Expr::Not(_) => true,
            Expr::Binary(op, _, _) => op.is_logical(),
            Expr::AsIs(e) | Expr::Paren(e) => e.is_logical(),
            _ => false,
        }
    }

    /// R's deparsed spelling with each column name written by `name`.
    pub(crate) fn deparse(
        &self,
        f: &mut impl std::fmt::Write,
        name: &impl Fn(&str) -> String,
    ) -> std::fmt::Result {
        /// `fun(e)`.
        fn call<W: std::fmt::Write>(
            f: &mut W,
            fun: &str,
            e: &Expr,
            name: &impl Fn(&str) -> String,
        ) -> std::fmt::Result {
            write!(f, "{fun}(")?;
            e.deparse(f, name)?;
            f.write_char(')')
        }
        match self {
            Expr::Column(c) => f.write_str(&name(c)),
            Expr::Factor(c) => write!(f, "factor({})", name(c)),
            Expr::Log(e) => call(f, "log", e, name),
            Expr::Exp(e) => call(f, "exp", e, name),
            Expr::Sqrt(e) => call(f, "sqrt", e, name),
            Expr::Scale(e) => call(f, "scale", e, name),
            Expr::AsIs(e) => call(f, "I", e, name),
            Expr::Paren(e) => call(f, "", e, name),
            Expr::Poly(e, degree) => {
                f.write_str("poly(")?;
                e.deparse(f, name)?;
                write!(f, ", {degree})")
            }
            Expr::Number(x) => write!(f, "{x}"),
            Expr::Negate(e) => {
                f.write_char('-')?;
                e.deparse(f, name)
            }
            Expr::Not(e) => {
                f.write_char('!')?;
                e.deparse(f, name)
            }
            Expr::Binary(op, a, b) => {
                a.deparse(f, name)?;
                f.write_str(op.spelled())?;
                b.deparse(f, name)
            }
        }
    }
}

impl std::fmt::Display for Expr {
    /// R's deparsed spelling, which is also the stem of coefficient names (`I(week > 2)`,
    /// `I(age^2)`, `poly(age, 2)`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.deparse(f, &|c: &str| c.to_string())
    }
}

/// The left-hand side: a response column, or `cbind(successes, failures)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lhs {
    Single(Expr),
    Cbind(Expr, Expr),
}

/// The right-hand side expanded: its terms, intercept, offsets and random-effect terms, and the
/// variables of its fixed part in order of first appearance.
pub(crate) struct Rhs {
    pub set: TermSet,
    pub order: Vec<Expr>,
}

/// A column or function call as read: a value, or `offset(value)`.
enum Value {
    Var(Expr),
    Offset(Expr),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Num(String),
    Sym(char),
    /// A two-character operator: `>=`, `<=`, `==`, `!=`.
    Op(&'static str),
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// Parentheses and function calls open at the current token.
    depth: usize,
}

/// Parse `text` into the response and the expanded right-hand side.
pub(crate) fn parse(text: &str) -> Result<(Lhs, Rhs)> {
    let chars: Vec<char> = text.chars().collect();
    let toks = tokenize(text, &chars)?;
    let mut p = Parser {
        text,
        chars,
        toks,
        pos: 0,
        depth: 0,
    };
    let lhs = p.lhs()?;
    p.expect('~')?;
    let rhs = p.rhs()?;
    if let Some((t, at)) = p.toks.get(p.pos) {
        return Err(p.err(*at, format!("unexpected {}", describe(t))));
    }
    Ok((lhs, rhs))
}

/// The tokens of `text` (whose characters are `chars`), each with its 0-based character offset.
fn tokenize(text: &str, chars: &[char]) -> Result<Vec<(Tok, usize)>> {
    let word = |c: char| c.is_alphanumeric() || c == '.' || c == '_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = (i, chars[i]);
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            i = number_end(chars, i);
            out.push((Tok::Num(chars[at..i].iter().collect()), at));
        } else if c.is_alphabetic() || c == '.' || c == '_' {
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
            out.push((Tok::Name(chars[at..i].iter().collect()), at));
        } else if c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != '`' {
                i += 1;
            }
            if i == chars.len() {
                return Err(formula_err(text, at, "unterminated backquote"));
            }
            out.push((Tok::Name(chars[at + 1..i].iter().collect()), at));
            i += 1;
        } else if let Some(op) = ["<=", ">=", "==", "!="]
            .into_iter()
            .find(|op| chars[i..].starts_with(&op.chars().collect::<Vec<_>>()))
        {
            out.push((Tok::Op(op), at));
            i += 2;
        } else if "~+-*:|(),^/&<>!=".contains(c) {
            out.push((Tok::Sym(c), at));
            i += 1;
        } else {
            return Err(formula_err(text, at, format!("unexpected character '{c}'")));
        }
    }
    Ok(out)
}

/// The end of the number that starts at `i`: digits and points, then an optional exponent
/// (`1e-5`, `2.5E3`).
fn number_end(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
        i += 1;
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(i + 1), Some('+' | '-')));
        if chars.get(i + 1 + sign).is_some_and(char::is_ascii_digit) {
            i += 1 + sign;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
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
        Tok::Op(op) => format!("'{op}'"),
    }
}

impl Parser<'_> {
    fn err(&self, at: usize, message: impl Into<String>) -> Error {
        formula_err(self.text, at, message)
    }

    fn here(&self) -> usize {
        self.toks
            .get(self.pos)
            .map_or(self.chars.len(), |(_, at)| *at)
    }

    fn peek_sym(&self, c: char) -> bool {
        matches!(self.toks.get(self.pos), Some((Tok::Sym(s), _)) if *s == c)
    }

    fn expect(&mut self, c: char) -> Result<()> {
        if self.take_sym(c) {
            Ok(())
        } else {
            let found = self
                .toks
                .get(self.pos)
                .map_or("the end of the formula".to_string(), |(t, _)| describe(t));
            Err(self.err(self.here(), format!("expected '{c}', found {found}")))
        }
    }

    /// Consume the symbol `c` if it is next.
    fn take_sym(&mut self, c: char) -> bool {
        let next = self.peek_sym(c);
        if next {
            self.pos += 1;
        }
        next
    }

    /// Consume the `(` that opens a parenthesis or a function call's arguments: one level of
    /// nesting more, refused past [`MAX_NESTING`].
    fn open(&mut self) -> Result<()> {
        if self.depth == MAX_NESTING {
            return Err(self.err(
                self.here(),
                format!(
                    "more than {MAX_NESTING} nested parentheses or function calls; a formula \
                     may nest at most {MAX_NESTING} levels (frame::formula::MAX_NESTING)"
                ),
            ));
        }
        self.expect('(')?;
        self.depth += 1;
        Ok(())
    }

    /// Consume the `)` that closes the innermost [`Parser::open`].
    fn close(&mut self) -> Result<()> {
        self.expect(')')?;
        self.depth -= 1;
        Ok(())
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
            self.open()?;
            let s = self.expr()?;
            self.expect(',')?;
            let f = self.expr()?;
            self.close()?;
            return Ok(Lhs::Cbind(s, f));
        }
        self.pos -= 1;
        match self.call_or_name()? {
            Value::Var(e) => Ok(Lhs::Single(e)),
            Value::Offset(_) => Err(self.err(
                at,
                "the response must be a column or cbind(successes, failures)",
            )),
        }
    }

    /// The right-hand side (`sum` of the grammar), read up to the first token that cannot
    /// continue it. Each `(` pushes a [`Group`]; each `)` pops one, whose expansion (or random-effect
    /// term, for `( ... | g)`) is then an operand of the group around it.
    fn rhs(&mut self) -> Result<Rhs> {
        let mut group = Group::default();
        // The groups around `group`, innermost last, each with the offset of the `(` that
        // opened the group inside it.
        let mut outer: Vec<(Group, usize)> = Vec::new();
        loop {
            // An operand: parentheses open new groups, each of which may start with '-'.
            let mut operand = loop {
                if group.at_start() && self.take_sym('-') {
                    group.subtracted = true;
                }
                if !self.peek_sym('(') {
                    break self.operand()?;
                }
                let at = self.here();
                self.open()?;
                outer.push((std::mem::take(&mut group), at));
            };
            // Operators after it; a group that ends is the next operand of the one around it.
            loop {
                group.join(operand, self.text)?;
                if self.take_sym(':') {
                    break;
                }
                if self.take_sym('*') {
                    group.end_interaction(self.text)?;
                    break;
                }
                let sign = if self.take_sym('+') {
                    Some(false)
                } else if self.take_sym('-') {
                    Some(true)
                } else {
                    None
                };
                group.end_product(self.text)?;
                if let Some(subtracted) = sign {
                    group.subtracted = subtracted;
                    break;
                }
                let Some((around, open)) = outer.pop() else {
                    return Ok(Rhs {
                        set: group.sum,
                        order: group.vars,
                    });
                };
                let done = std::mem::replace(&mut group, around);
                operand = if self.take_sym('|') {
                    self.random_term(open, done.sum)?
                } else {
                    self.close()?;
                    (done.sum, done.vars)
                };
            }
        }
    }

    /// The rest of a random-effect term `(lhs | group)` opened at `open`, after the `|`: a second
    /// `|` (uncorrelated effects), the grouping factor with its nesting (`a/b`) and the `)`;
    /// expanded into one term per grouping (and per effect, for `||`), as lme4 expands them.
    fn random_term(&mut self, open: usize, lhs: TermSet) -> Result<(TermSet, Vec<Expr>)> {
        let uncorrelated = self.take_sym('|');
        let mut nesting = vec![self.group()?];
        while self.take_sym('/') {
            nesting.push(self.group()?);
        }
        let end = self.here();
        self.close()?;
        if !lhs.only_terms() {
            return Err(misplaced(
                self.text,
                "a random-effect term or offset inside a random-effect term",
            ));
        }
        let written: String = self.chars[open..=end].iter().collect();
        let intercept = lhs.intercept.unwrap_or(true);
        let slopes: Vec<Term> = lhs.terms.into_iter().map(|vars| Term { vars }).collect();
        // Each effect on its own for `||`, all together otherwise.
        let effects: Vec<(bool, Vec<Term>)> = if uncorrelated {
            let mut each: Vec<(bool, Vec<Term>)> = Vec::new();
            if intercept {
                each.push((true, Vec::new()));
            }
            each.extend(slopes.into_iter().map(|s| (false, vec![s])));
            each
        } else {
            vec![(intercept, slopes)]
        };
        let expanded = uncorrelated || nesting.len() > 1;
        let mut random = Vec::new();
        let mut group: Vec<String> = Vec::new();
        for names in nesting {
            group.extend(names);
            for (intercept, slopes) in &effects {
                random.push(RandomTerm {
                    text: if expanded {
                        random_term_text(*intercept, slopes, &group)
                    } else {
                        written.clone()
                    },
                    intercept: *intercept,
                    slopes: slopes.clone(),
                    group: group.clone(),
                });
            }
        }
        let set = TermSet {
            random,
            ..TermSet::default()
        };
        Ok((set, Vec::new()))
    }

    /// A grouping factor `name (':' name)*`.
    fn group(&mut self) -> Result<Vec<String>> {
        let mut group = vec![self.name()?];
        while self.take_sym(':') {
            group.push(self.name()?);
        }
        Ok(group)
    }

    /// An operand other than a parenthesis: `0`, `1`, a column or a function call, expanded,
    /// with the variable it adds to the fixed part.
    fn operand(&mut self) -> Result<(TermSet, Vec<Expr>)> {
        let at = self.here();
        let intercept = |present| TermSet {
            intercept: Some(present),
            ..TermSet::default()
        };
        match self.toks.get(self.pos) {
            Some((Tok::Num(n), _)) => {
                let set = match n.as_str() {
                    "1" => intercept(true),
                    "0" => intercept(false),
                    _ => {
                        return Err(self.err(
                            at,
                            format!("a number in a formula must be 0 or 1, found {n}"),
                        ))
                    }
                };
                self.pos += 1;
                Ok((set, Vec::new()))
            }
            Some((Tok::Name(n), at)) if n == "." => Err(self.err(
                *at,
                "`.` (all other columns) is not supported: name the terms, e.g. `y ~ treated + age`",
            )),
            Some((Tok::Name(_), _)) => Ok(match self.call_or_name()? {
                Value::Var(e) => (
                    TermSet {
                        terms: vec![vec![e.clone()]],
                        ..TermSet::default()
                    },
                    vec![e],
                ),
                Value::Offset(e) => (
                    TermSet {
                        offsets: vec![e],
                        ..TermSet::default()
                    },
                    Vec::new(),
                ),
            }),
            Some((t, at)) => Err(self.err(*at, format!("expected a term, found {}", describe(t)))),
            None => Err(self.err(at, "expected a term, found the end of the formula")),
        }
    }

    /// A column or function call at the level of terms: `offset(value)`, or else a
    /// [`Parser::primary`] (where `+`, `-`, `*` and `:` are formula operators, not arithmetic).
    fn call_or_name(&mut self) -> Result<Value> {
        let offset = matches!(self.toks.get(self.pos), Some((Tok::Name(n), _)) if n == "offset")
            && matches!(self.toks.get(self.pos + 1), Some((Tok::Sym('('), _)));
        if offset {
            self.pos += 1;
            self.open()?;
            let value = self.expr()?;
            self.close()?;
            return Ok(Value::Offset(value));
        }
        Ok(Value::Var(self.primary()?.0))
    }

    /// An expression inside a function call or `cbind()`, with R's operators.
    fn expr(&mut self) -> Result<Expr> {
        Ok(self.binary(0)?.0)
    }

    /// The operators of precedence at least `min` and their operands, by precedence climbing
    /// (R's precedence, see [`BinaryOp::precedence`]), with the depth of the expression read.
    /// Chains of operators grouping from the left are read in a loop; every recursion (the
    /// operand of a unary operator, the right operand of an operator) is one level of
    /// [`Parser::open`]'s nesting, and the expression built is at most [`MAX_NESTING`] deep.
    fn binary(&mut self, min: u8) -> Result<(Expr, usize)> {
        let (mut lhs, mut depth) = self.unary()?;
        let mut compared = false;
        while let Some((op, at)) = self.peek_binary() {
            let (precedence, right) = op.precedence();
            if precedence < min {
                break;
            }
            let comparison = precedence == BinaryOp::Gt.precedence().0;
            if comparison && compared {
                return Err(self.err(at, "comparisons cannot be chained (as in R)"));
            }
            compared = comparison;
            self.pos += 1;
            let (rhs, d) = self.nested(at, |p| p.binary(precedence + u8::from(!right)))?;
            depth = depth.max(d) + 1;
            self.check_depth(depth, at)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok((lhs, depth))
    }

    /// `-x`, `+x`, `!x`, or a [`Parser::primary`].
    fn unary(&mut self) -> Result<(Expr, usize)> {
        let at = self.here();
        let (precedence, wrap): (u8, fn(Box<Expr>) -> Expr) = if self.take_sym('-') {
            (NEGATE_PRECEDENCE, Expr::Negate)
        } else if self.take_sym('!') {
            (NOT_PRECEDENCE, Expr::Not)
        } else {
            return self.primary();
        };
        let (e, d) = self.nested(at, |p| p.binary(precedence))?;
        self.check_depth(d + 1, at)?;
        Ok((wrap(Box::new(e)), d + 1))
    }

    /// Run `read` one level of nesting deeper (refused past [`MAX_NESTING`] at `at`).
    fn nested<T>(&mut self, at: usize, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.check_depth(self.depth + 1, at)?;
        self.depth += 1;
        let out = read(self);
        self.depth -= 1;
        out
    }

    /// Refuse an expression nested deeper than [`MAX_NESTING`].
    fn check_depth(&self, depth: usize, at: usize) -> Result<()> {
        if depth <= MAX_NESTING {
            return Ok(());
        }
        Err(self.err(
            at,
            format!(
                "an expression nested more than {MAX_NESTING} levels; a formula may nest at most \
                 {MAX_NESTING} levels (frame::formula::MAX_NESTING)"
            ),
        ))
    }

    /// The binary operator next, if any, and its offset.
    fn peek_binary(&self) -> Option<(BinaryOp, usize)> {
        let (tok, at) = self.toks.get(self.pos)?;
        let op = match tok {
            Tok::Sym('+') => BinaryOp::Add,
            Tok::Sym('-') => BinaryOp::Sub,
            Tok::Sym('*') => BinaryOp::Mul,
            Tok::Sym('/') => BinaryOp::Div,
            Tok::Sym('^') => BinaryOp::Pow,
            Tok::Sym('>') => BinaryOp::Gt,
            Tok::Sym('<') => BinaryOp::Lt,
            Tok::Sym('&') => BinaryOp::And,
            Tok::Sym('|') => BinaryOp::Or,
            Tok::Op(">=") => BinaryOp::Ge,
            Tok::Op("<=") => BinaryOp::Le,
            Tok::Op("==") => BinaryOp::Eq,
            Tok::Op("!=") => BinaryOp::Ne,
            _ => return None,
        };
        Some((op, *at))
    }

    /// A number, a column, `(expression)` or a function call, with its depth.
    fn primary(&mut self) -> Result<(Expr, usize)> {
        let at = self.here();
        match self.toks.get(self.pos) {
            Some((Tok::Num(n), _)) => {
                let value: f64 = n
                    .parse()
                    .map_err(|_| self.err(at, format!("'{n}' is not a number")))?;
                self.pos += 1;
                Ok((Expr::Number(Number::new(value)), 1))
            }
            Some((Tok::Sym('('), _)) => {
                self.open()?;
                let (e, d) = self.binary(0)?;
                self.close()?;
                Ok((Expr::Paren(Box::new(e)), d + 1))
            }
            _ => {
                let name = self.name()?;
                if self.peek_sym('(') {
                    self.call(&name, at)
                } else {
                    Ok((Expr::Column(name), 1))
                }
            }
        }
    }

    /// The call of the function `name` (at `at`), its `(` next: `factor(column)`, `log`, `exp`,
    /// `sqrt`, `scale` or `I` of an expression, or `poly(expression, degree)`.
    fn call(&mut self, name: &str, at: usize) -> Result<(Expr, usize)> {
        let wrap: fn(Box<Expr>) -> Expr = match name {
            "factor" | "as.factor" => {
                self.open()?;
                let factor = Expr::Factor(self.name()?);
                self.close()?;
                return Ok((factor, 2));
            }
            "log" => Expr::Log,
            "exp" => Expr::Exp,
            "sqrt" => Expr::Sqrt,
            "scale" => Expr::Scale,
            "I" => Expr::AsIs,
            "poly" => {
                self.open()?;
                let (e, d) = self.binary(0)?;
                self.expect(',')?;
                let degree = self.degree()?;
                self.close()?;
                return Ok((Expr::Poly(Box::new(e), degree), d + 1));
            }
            "offset" => return Err(self.err(at, "offset() can only be a term of its own")),
            other => {
                return Err(self.err(
                    at,
                    format!(
                        "unsupported function '{other}' (supported: factor, I, log, exp, sqrt, \
                         scale, poly, offset, cbind)"
                    ),
                ))
            }
        };
        self.open()?;
        let (e, d) = self.binary(0)?;
        self.close()?;
        Ok((wrap(Box::new(e)), d + 1))
    }

    /// The degree of `poly(x, degree)`: a whole number from 1.
    fn degree(&mut self) -> Result<usize> {
        let at = self.here();
        if let Some((Tok::Num(n), _)) = self.toks.get(self.pos) {
            if let Ok(degree @ 1..) = n.parse::<usize>() {
                self.pos += 1;
                return Ok(degree);
            }
        }
        Err(self.err(
            at,
            "the degree of poly() must be a whole number of at least 1",
        ))
    }
}

/// A parenthesis being read, or the whole right-hand side: what it holds so far, expanded.
#[derive(Default)]
struct Group {
    /// The sum of the products that ended.
    sum: TermSet,
    /// Whether the product being read is subtracted from the sum.
    subtracted: bool,
    /// The crossing of the interactions that ended, in the product being read.
    cross: Option<TermSet>,
    /// The interaction being read.
    inter: Option<TermSet>,
    /// Variables of the fixed part in order of appearance (with repeats).
    vars: Vec<Expr>,
    /// Whether an operand has been read.
    started: bool,
}

impl Group {
    /// Whether nothing has been read in it (a leading '-' may come).
    fn at_start(&self) -> bool {
        !self.started && !self.subtracted
    }

    /// Interact the operand `(set, vars)` with the interaction being read (`a:b`).
    fn join(&mut self, (set, vars): (TermSet, Vec<Expr>), text: &str) -> Result<()> {
        self.started = true;
        self.vars.extend(vars);
        self.inter = Some(match self.inter.take() {
            None => set,
            Some(inter) => {
                check_only_terms(&inter, &set, text)?;
                interact(&inter, &set)
            }
        });
        Ok(())
    }

    /// End the interaction being read: cross it with the product (`a*b = a + b + a:b`).
    fn end_interaction(&mut self, text: &str) -> Result<()> {
        let Some(inter) = self.inter.take() else {
            return Ok(());
        };
        self.cross = Some(match self.cross.take() {
            None => inter,
            Some(cross) => {
                check_only_terms(&cross, &inter, text)?;
                let both = interact(&cross, &inter);
                cross.union(inter).union(both)
            }
        });
        Ok(())
    }

    /// End the product being read: add it to the sum, or subtract it.
    fn end_product(&mut self, text: &str) -> Result<()> {
        self.end_interaction(text)?;
        if let Some(product) = self.cross.take() {
            let sum = std::mem::take(&mut self.sum);
            self.sum = if self.subtracted {
                subtract(sum, product)
            } else {
                sum.union(product)
            };
        }
        Ok(())
    }
}

/// What a (sub)formula expands to: terms as variable lists, and what the top level collects.
#[derive(Debug, Default)]
pub(crate) struct TermSet {
    pub terms: Vec<Vec<Expr>>,
    /// `Some(true)` for an explicit `1`, `Some(false)` for `0` or `- 1`.
    pub intercept: Option<bool>,
    pub offsets: Vec<Expr>,
    pub random: Vec<RandomTerm>,
}

impl TermSet {
    fn push_term(&mut self, vars: Vec<Expr>) {
        if !self.terms.iter().any(|t| same_vars(t, &vars)) {
            self.terms.push(vars);
        }
    }

    /// `a + b`.
    fn union(mut self, other: TermSet) -> TermSet {
        for t in other.terms {
            self.push_term(t);
        }
        self.intercept = other.intercept.or(self.intercept);
        self.offsets.extend(other.offsets);
        self.random.extend(other.random);
        self
    }

    fn only_terms(&self) -> bool {
        self.offsets.is_empty() && self.random.is_empty()
    }
}

fn same_vars(a: &[Expr], b: &[Expr]) -> bool {
    a.len() == b.len() && a.iter().all(|v| b.contains(v))
}

/// An error unless both operands of `:` or `*` are terms only (no offset or random-effect term).
fn check_only_terms(a: &TermSet, b: &TermSet, text: &str) -> Result<()> {
    if a.only_terms() && b.only_terms() {
        Ok(())
    } else {
        Err(misplaced(text, "a random-effect term or offset"))
    }
}

/// `what` used where only terms may be.
fn misplaced(text: &str, what: &str) -> Error {
    formula_err(
        text,
        0,
        format!("{what} can only be added to a formula, not crossed or interacted"),
    )
}

/// Interaction of two term sets: every pair of terms, variables united.
fn interact(a: &TermSet, b: &TermSet) -> TermSet {
    let mut out = TermSet::default();
    for ta in &a.terms {
        for tb in &b.terms {
            let mut vars = ta.clone();
            for v in tb {
                if !vars.contains(v) {
                    vars.push(v.clone());
                }
            }
            out.push_term(vars);
        }
    }
    out
}

/// `a - b`: remove b's terms from a; `- 1` removes the intercept, `- 0` restores it.
fn subtract(mut a: TermSet, b: TermSet) -> TermSet {
    a.terms.retain(|t| !b.terms.iter().any(|r| same_vars(t, r)));
    if let Some(i) = b.intercept {
        a.intercept = Some(!i);
    }
    a
}
