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
//! call     := name '(' expr (',' expr)* ')' (factor, log, offset, cbind)
//! nesting  := group ('/' group)*            (1 | a/b) = (1 | a) + (1 | a:b)
//! group    := name (':' name)*
//! ```
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
//! the input's length nor its nesting reaches the call stack, and an expression (`Expr::Log`)
//! is at most [`MAX_NESTING`] deep.

use super::{RandomTerm, Term};
use crate::core::error::{Error, Result};

/// The deepest nesting a formula may have: parentheses, random-effect terms `( ... | g)` and
/// function calls (`factor(`, `log(`, `offset(`, `cbind(`) opened inside one another, counted
/// together. A formula nested deeper is refused with [`Error::Formula`] at the opening
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
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            out.push((Tok::Num(chars[at..i].iter().collect()), at));
        } else if "~+-*:|(),/".contains(c) {
            out.push((Tok::Sym(c), at));
            i += 1;
        } else {
            return Err(formula_err(text, at, format!("unexpected character '{c}'")));
        }
    }
    Ok(out)
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
            let s = self.value_expr()?;
            self.expect(',')?;
            let f = self.value_expr()?;
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

    /// A value inside `cbind(...)`: `name`, `f(name)` or `a - b`.
    fn value_expr(&mut self) -> Result<Expr> {
        let at = self.here();
        let first = match self.call_or_name()? {
            Value::Var(e) => e,
            Value::Offset(_) => return Err(self.err(at, "expected a column inside cbind()")),
        };
        if self.take_sym('-') {
            let at = self.here();
            match self.call_or_name()? {
                Value::Var(e) => return Ok(Expr::Minus(Box::new(first), Box::new(e))),
                Value::Offset(_) => return Err(self.err(at, "expected a column after '-'")),
            }
        }
        Ok(first)
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

    /// `name` or a call of a function a formula may use: `factor(name)`, `log(value)`, and
    /// outermost `offset(value)`, read in a loop (the calls around the innermost value are
    /// counted, then closed).
    fn call_or_name(&mut self) -> Result<Value> {
        let (mut logs, mut offset) = (0, false);
        let mut value = loop {
            let at = self.here();
            let name = self.name()?;
            if !self.peek_sym('(') {
                break Expr::Column(name);
            }
            match name.as_str() {
                "factor" | "as.factor" => {
                    self.open()?;
                    let factor = Expr::Factor(self.name()?);
                    self.close()?;
                    break factor;
                }
                "log" => logs += 1,
                "offset" if logs == 0 && !offset => offset = true,
                "offset" => return Err(self.err(at, "expected a column")),
                other => {
                    return Err(self.err(
                        at,
                        format!(
                            "unsupported function '{other}' (supported: factor, log, offset, cbind)"
                        ),
                    ))
                }
            }
            self.open()?;
        };
        for _ in 0..logs {
            self.close()?;
            value = Expr::Log(Box::new(value));
        }
        if offset {
            self.close()?;
            return Ok(Value::Offset(value));
        }
        Ok(Value::Var(value))
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
