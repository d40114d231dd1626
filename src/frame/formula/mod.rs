//! Model formulas in lme4's syntax, and a builder that composes them in code.
//!
//! `death30 ~ treated + factor(period) + age + sex + (1 | cluster)` reads: the response
//! `death30`; an intercept (implicit; `0 +` or `- 1` removes it); the fixed terms `treated`,
//! `factor(period)` (a factor even though the column is numeric), `age`, `sex` (a text column,
//! so a factor); and a random intercept for each `cluster`.
//!
//! Supported on the right-hand side: column names, `factor(x)`, the functions `I(expr)`,
//! `log(x)`, `exp(x)`, `sqrt(x)`, `scale(x)` and `poly(x, k)` (whose arguments are R
//! expressions: `I(week > 2)`, `I(age^2)`, `log(x + 1)`; see [`Expr`]), interactions `a:b`,
//! crossing `a*b` (= `a + b + a:b`), parentheses, `0`, `1`, `- term`, `offset(x)` (also
//! `offset(log(x))`), and random-effect terms `(1 | g)`, `(1 | g:h)`, `(1 + x | g)`,
//! `(0 + x | g)`, any number of them; `(1 | g/h)` is expanded to `(1 | g) + (1 | g:h)` and
//! `(1 + x || g)` (uncorrelated effects) to `(1 | g) + (0 + x | g)`, as lme4 expands them. On the left: a column, or `cbind(successes, failures)` for binomial counts
//! (`cbind(events, trials - events)`). Parentheses, random-effect terms and function calls may
//! nest [`MAX_NESTING`] (256) levels deep; a deeper formula is an [`Error::Formula`] naming the
//! limit, whatever its length (`y ~ ((((x))))` with 100,000 parentheses is refused, not a stack
//! overflow).
//!
//! Terms are ordered as R's `terms()` orders them: by the number of variables in the term,
//! then by first appearance; the variables inside an interaction follow their first appearance
//! in the formula, so `sex + treated + treated:sex` has the term `sex:treated`, as in R.

mod parse;

pub use parse::{BinaryOp, Expr, Number, MAX_NESTING};

use crate::core::error::{Error, Result};
use parse::Lhs;

/// The response of a model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Response {
    /// One column: 0/1 for binary outcomes, counts, or continuous values.
    Single(Expr),
    /// `cbind(successes, failures)`: binomial counts.
    Binomial {
        /// Number of events.
        successes: Expr,
        /// Number of non-events.
        failures: Expr,
    },
}

/// One fixed-effect term: a main effect (one variable) or an interaction of several.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Term {
    /// The variables, in formula order.
    pub vars: Vec<Expr>,
}

impl Term {
    /// R's term label, e.g. `treated:factor(period)`.
    pub fn label(&self) -> String {
        self.vars
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// A random-effect term `(lhs | group)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RandomTerm {
    /// The term as written, e.g. `(1 + treated | cluster)`.
    pub text: String,
    /// Whether the term has a random intercept.
    pub intercept: bool,
    /// Random slopes (terms on the left of `|` other than the intercept).
    pub slopes: Vec<Term>,
    /// The grouping factor: one column, or several for `g:h` (a nested grouping).
    pub group: Vec<String>,
}

impl RandomTerm {
    /// The grouping factor's name as lme4 prints it: `cluster` or `cluster:period`.
    pub fn group_name(&self) -> String {
        self.group.join(":")
    }
}

/// A parsed model formula.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Formula {
    /// The formula as written.
    pub text: String,
    /// The response.
    pub response: Response,
    /// Whether the model has an intercept.
    pub intercept: bool,
    /// Fixed-effect terms in R's order.
    pub terms: Vec<Term>,
    /// Offsets (added to the linear predictor with coefficient 1).
    pub offsets: Vec<Expr>,
    /// Random-effect terms, in the order written, `a/b` and `||` expanded.
    pub random: Vec<RandomTerm>,
}

impl std::str::FromStr for Formula {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Formula::parse(s)
    }
}

impl std::fmt::Display for Formula {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Formula {
    /// Parse lme4-style formula text.
    pub fn parse(text: &str) -> Result<Formula> {
        let (lhs, parse::Rhs { set, order }) = parse::parse(text)?;
        let mut terms: Vec<Term> = set
            .terms
            .into_iter()
            .map(|mut vars| {
                vars.sort_by_key(|v| order.iter().position(|o| o == v));
                Term { vars }
            })
            .collect();
        terms.sort_by_key(|t| t.vars.len());
        let response = match lhs {
            Lhs::Single(e) => Response::Single(e),
            Lhs::Cbind(successes, failures) => Response::Binomial {
                successes,
                failures,
            },
        };
        Ok(Formula {
            text: text.trim().to_string(),
            response,
            intercept: set.intercept.unwrap_or(true),
            terms,
            offsets: set.offsets,
            random: set.random,
        })
    }

    /// Every column the formula reads (response, fixed terms, offsets, random-effect terms and
    /// grouping factors), each once, in order of appearance.
    pub fn columns(&self) -> Vec<String> {
        let mut out = self.response_columns();
        for c in self.predictor_columns() {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// The columns of the response, each once.
    pub fn response_columns(&self) -> Vec<String> {
        let exprs: Vec<&Expr> = match &self.response {
            Response::Single(e) => vec![e],
            Response::Binomial {
                successes,
                failures,
            } => vec![successes, failures],
        };
        unique_columns(exprs)
    }

    /// The columns of everything but the response (fixed terms, offsets, random-effect terms and
    /// grouping factors), each once, in order of appearance.
    pub fn predictor_columns(&self) -> Vec<String> {
        let fixed = self.terms.iter().flat_map(|t| &t.vars);
        let slopes = self
            .random
            .iter()
            .flat_map(|r| r.slopes.iter().flat_map(|t| &t.vars));
        let mut out = unique_columns(fixed.chain(&self.offsets).chain(slopes));
        for g in self.random.iter().flat_map(|r| &r.group) {
            if !out.contains(g) {
                out.push(g.clone());
            }
        }
        out
    }
}

impl Formula {
    /// The formula with the variable `from` of its fixed part replaced by `to`, in main effects
    /// and interactions alike; the response, offsets and random-effect terms are kept as written.
    /// `death30 ~ factor(exposure) + factor(period) + (1 | cluster)` with `factor(exposure)`
    /// replaced by `treated` is the immediate-treatment model `death30 ~ treated +
    /// factor(period) + (1 | cluster)`. An error names the terms there are if no fixed term has
    /// `from`.
    ///
    /// ```
    /// use stepwedge::frame::formula::{Expr, Formula};
    /// let eti = Formula::parse("y ~ factor(exposure) + factor(period) + (1 | cluster)").unwrap();
    /// let it = eti
    ///     .replace_variable(&Expr::Factor("exposure".into()), &Expr::Column("treated".into()))
    ///     .unwrap();
    /// assert_eq!(it.text, "y ~ treated + factor(period) + (1 | cluster)");
    /// ```
    pub fn replace_variable(&self, from: &Expr, to: &Expr) -> Result<Formula> {
        if !self.terms.iter().any(|t| t.vars.contains(from)) {
            let labels: Vec<String> = self.terms.iter().map(Term::label).collect();
            return Err(Error::unknown_term("formula", &from.to_string(), &labels));
        }
        let response = match &self.response {
            Response::Single(e) => written(e),
            Response::Binomial {
                successes,
                failures,
            } => format!("cbind({}, {})", written(successes), written(failures)),
        };
        let mut rhs: Vec<String> = Vec::new();
        if !self.intercept {
            rhs.push("0".into());
        }
        for term in &self.terms {
            let vars: Vec<String> = term
                .vars
                .iter()
                .map(|v| written(if v == from { to } else { v }))
                .collect();
            let term = vars.join(":");
            // `treated + exposure` with exposure replaced by treated is `treated`.
            if !rhs.contains(&term) {
                rhs.push(term);
            }
        }
        rhs.extend(
            self.offsets
                .iter()
                .map(|o| format!("offset({})", written(o))),
        );
        rhs.extend(self.random.iter().map(|r| r.text.clone()));
        if rhs.is_empty() {
            rhs.push("1".into());
        }
        Formula::parse(&format!("{response} ~ {}", rhs.join(" + ")))
    }
}

/// An expression as formula text, with column names quoted where they need it.
fn written(e: &Expr) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = e.deparse(&mut out, &|c: &str| quote(c));
    out
}

/// The columns of `exprs`, each once, in order of appearance.
fn unique_columns<'e>(exprs: impl IntoIterator<Item = &'e Expr>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in exprs.into_iter().flat_map(|e| e.columns()) {
        if !out.iter().any(|o| o == c) {
            out.push(c.to_string());
        }
    }
    out
}

/// Composes a [`Formula`] in code: the same model a formula string describes.
///
/// ```
/// use stepwedge::frame::formula::FormulaBuilder;
/// let f = FormulaBuilder::new("death30")
///     .term("treated")
///     .factor("period")
///     .term("age")
///     .random_intercept("cluster")
///     .build()
///     .unwrap();
/// assert_eq!(f.text, "death30 ~ treated + factor(period) + age + (1 | cluster)");
/// ```
#[derive(Debug, Clone)]
pub struct FormulaBuilder {
    response: String,
    parts: Vec<String>,
    intercept: bool,
}

impl FormulaBuilder {
    /// A formula for the response column `response`.
    pub fn new(response: &str) -> Self {
        FormulaBuilder {
            response: quote(response),
            parts: Vec::new(),
            intercept: true,
        }
    }

    /// A binomial response `cbind(successes, trials - successes)` from counts.
    pub fn binomial_counts(successes: &str, trials: &str) -> Self {
        FormulaBuilder {
            response: format!(
                "cbind({}, {} - {})",
                quote(successes),
                quote(trials),
                quote(successes)
            ),
            parts: Vec::new(),
            intercept: true,
        }
    }

    /// A column as it is (numeric, 0/1, or text, which becomes a factor).
    pub fn term(mut self, column: &str) -> Self {
        self.parts.push(quote(column));
        self
    }

    /// `factor(column)`.
    pub fn factor(mut self, column: &str) -> Self {
        self.parts.push(format!("factor({})", quote(column)));
        self
    }

    /// The interaction `a:b:...` of columns.
    pub fn interaction(mut self, columns: &[&str]) -> Self {
        let q: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        self.parts.push(q.join(":"));
        self
    }

    /// `offset(log(column))`, e.g. log person-time in a Poisson model.
    pub fn offset_log(mut self, column: &str) -> Self {
        self.parts.push(format!("offset(log({}))", quote(column)));
        self
    }

    /// A random intercept `(1 | group)`; `group` may be `"cluster:period"`.
    pub fn random_intercept(mut self, group: &str) -> Self {
        let g: Vec<String> = group.split(':').map(quote).collect();
        self.parts.push(format!("(1 | {})", g.join(":")));
        self
    }

    /// Correlated random intercept and slopes `(1 + x + ... | group)`.
    pub fn random_slopes(mut self, slopes: &[&str], group: &str) -> Self {
        let mut lhs = vec!["1".to_string()];
        lhs.extend(slopes.iter().map(|s| quote(s)));
        self.parts
            .push(format!("({} | {})", lhs.join(" + "), quote(group)));
        self
    }

    /// Drop the intercept (`0 + ...`).
    pub fn no_intercept(mut self) -> Self {
        self.intercept = false;
        self
    }

    /// Parse the composed text, so a built formula behaves exactly as the written one.
    pub fn build(self) -> Result<Formula> {
        let mut rhs = Vec::new();
        if !self.intercept {
            rhs.push("0".to_string());
        }
        rhs.extend(self.parts);
        if rhs.is_empty() {
            rhs.push("1".to_string());
        }
        Formula::parse(&format!("{} ~ {}", self.response, rhs.join(" + ")))
    }
}

/// Backquote a column name that is not a plain identifier.
fn quote(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("`{name}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(f: &Formula) -> Vec<String> {
        f.terms.iter().map(Term::label).collect()
    }

    #[test]
    fn a_variable_is_replaced_in_every_fixed_term() {
        let f = Formula::parse(
            "cbind(d, `n all` - d) ~ 0 + factor(exposure) * sex + offset(log(t)) + (1 | g:h)",
        )
        .unwrap();
        let g = f
            .replace_variable(
                &Expr::Factor("exposure".into()),
                &Expr::Column("tr t".into()),
            )
            .unwrap();
        assert_eq!(
            g.text,
            "cbind(d, `n all` - d) ~ 0 + `tr t` + sex + `tr t`:sex + offset(log(t)) + (1 | g:h)"
        );
        assert_eq!(labels(&g), ["tr t", "sex", "tr t:sex"]);
        assert_eq!(
            (g.intercept, g.random.len(), g.offsets.len()),
            (false, 1, 1)
        );
        let missing = f
            .replace_variable(&Expr::Column("age".into()), &Expr::Column("x".into()))
            .unwrap_err();
        assert!(missing.to_string().contains("no term 'age'"), "{missing}");
    }

    #[test]
    fn main_effects_factor_and_random() {
        let f = Formula::parse("death30 ~ treated + factor(period) + age + sex + (1 | cluster)")
            .unwrap();
        assert_eq!(f.response, Response::Single(Expr::Column("death30".into())));
        assert!(f.intercept);
        assert_eq!(labels(&f), ["treated", "factor(period)", "age", "sex"]);
        assert_eq!(f.random.len(), 1);
        assert_eq!(f.random[0].group_name(), "cluster");
        assert!(f.random[0].intercept && f.random[0].slopes.is_empty());
        assert_eq!(
            f.columns(),
            ["death30", "treated", "period", "age", "sex", "cluster"]
        );
    }

    #[test]
    fn crossing_and_interaction_order_follows_r() {
        let f = Formula::parse("y ~ a * b").unwrap();
        assert_eq!(labels(&f), ["a", "b", "a:b"]);
        let f = Formula::parse("y ~ treated:sex + age").unwrap();
        assert_eq!(labels(&f), ["age", "treated:sex"]);
        let f = Formula::parse("y ~ sex + treated + treated:sex").unwrap();
        assert_eq!(labels(&f), ["sex", "treated", "sex:treated"]);
        let f = Formula::parse("y ~ (a + b):c").unwrap();
        assert_eq!(labels(&f), ["a:c", "b:c"]);
        let f = Formula::parse("y ~ a*b - a:b").unwrap();
        assert_eq!(labels(&f), ["a", "b"]);
    }

    #[test]
    fn intercept_removal() {
        assert!(!Formula::parse("y ~ 0 + x").unwrap().intercept);
        assert!(!Formula::parse("y ~ x - 1").unwrap().intercept);
        assert!(!Formula::parse("y ~ -1 + x").unwrap().intercept);
        assert!(Formula::parse("y ~ x + 1").unwrap().intercept);
        let f = Formula::parse("y ~ 1").unwrap();
        assert!(f.intercept && f.terms.is_empty());
    }

    #[test]
    fn offsets_cbind_and_nested_random() {
        let f = Formula::parse(
            "cbind(events, trials - events) ~ treated + offset(log(pt)) + (1 | cluster) + (1 | cluster:period)",
        )
        .unwrap();
        assert!(matches!(f.response, Response::Binomial { .. }));
        assert_eq!(f.offsets, [Expr::Log(Box::new(Expr::Column("pt".into())))]);
        assert_eq!(f.random[1].group, ["cluster", "period"]);
        assert_eq!(f.random[1].group_name(), "cluster:period");
        let f = Formula::parse("y ~ treated + (1 + treated | cluster)").unwrap();
        assert_eq!(f.random[0].slopes[0].label(), "treated");
        assert_eq!(f.random[0].text, "(1 + treated | cluster)");
        let f = Formula::parse("y ~ treated + (0 + treated | cluster)").unwrap();
        assert!(!f.random[0].intercept);
    }

    #[test]
    fn nesting_and_uncorrelated_terms_expand_as_lme4() {
        let groups =
            |f: &Formula| -> Vec<String> { f.random.iter().map(|r| r.text.clone()).collect() };
        let f = Formula::parse("TICKS ~ YEAR + (1 | LOCATION/BROOD)").unwrap();
        assert_eq!(groups(&f), ["(1 | LOCATION)", "(1 | LOCATION:BROOD)"]);
        assert_eq!(f.random[1].group, ["LOCATION", "BROOD"]);
        let f = Formula::parse("y ~ x + (1 | a/b:c/d)").unwrap();
        assert_eq!(groups(&f), ["(1 | a)", "(1 | a:b:c)", "(1 | a:b:c:d)"]);
        let f = Formula::parse("y ~ x + (1 + x + `z w` || g)").unwrap();
        assert_eq!(groups(&f), ["(1 | g)", "(0 + x | g)", "(0 + `z w` | g)"]);
        assert!(f.random[0].intercept && f.random[0].slopes.is_empty());
        assert!(!f.random[2].intercept);
        assert_eq!(f.random[2].slopes[0].label(), "z w");
        let f = Formula::parse("y ~ x + (0 + x || g/h)").unwrap();
        assert_eq!(groups(&f), ["(0 + x | g)", "(0 + x | g:h)"]);
        // Several terms, crossed, kept in the order written; a plain term keeps its text.
        let f = Formula::parse("y ~ x + (1 | b) + (1 + x | i) + (1 | l)").unwrap();
        assert_eq!(groups(&f), ["(1 | b)", "(1 + x | i)", "(1 | l)"]);
        // The expansion parses back to itself.
        let f = Formula::parse("y ~ x + (1 + x || g/h)").unwrap();
        let again = Formula::parse(&format!("y ~ x + {}", groups(&f).join(" + "))).unwrap();
        assert_eq!(again.random, f.random);
        for bad in [
            "y ~ x + (1 | g/)",
            "y ~ x + (1 ||| g)",
            "y ~ x / g",
            "y ~ x + (1 | /g)",
        ] {
            assert!(Formula::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_position() {
        for (text, message) in [
            ("y ~ treated + + age", "at character 14"),
            ("~ x", "needs a response"),
            ("y ~ abs(x)", "unsupported function 'abs'"),
            ("y ~ x + (1 | cluster", "expected ')'"),
            ("y ~ x + 2", "must be 0 or 1"),
        ] {
            let e = Formula::parse(text).unwrap_err().to_string();
            assert!(e.contains(message), "{text}: {e}");
        }
        assert!(Formula::parse("y ~ x $ z").is_err());
        assert!(Formula::parse("y ~ x:(1|g)").is_err());
    }

    #[test]
    fn functions_print_as_r_deparses_them() {
        let f = Formula::parse(
            "y ~ I(week>2) + I(age^2.0) + I(-x^2) + I((x)) + I(x*1e5) + I(x/0.0001) + scale(x) \
             + poly(x,2) + exp(x/10) + sqrt(x) + log(x+1) + I(!(x>2) & x<9 | x==10)",
        )
        .unwrap();
        assert_eq!(
            labels(&f),
            [
                "I(week > 2)",
                "I(age^2)",
                "I(-x^2)",
                "I((x))",
                "I(x * 1e+05)",
                "I(x/1e-04)",
                "scale(x)",
                "poly(x, 2)",
                "exp(x/10)",
                "sqrt(x)",
                "log(x + 1)",
                "I(!(x > 2) & x < 9 | x == 10)",
            ]
        );
        assert_eq!(f.columns(), ["y", "week", "age", "x"]);
        assert!(f.terms[0].vars[0].is_logical() && !f.terms[1].vars[0].is_logical());
        let f =
            Formula::parse("y ~ treated:scale(age) + I(0.1 + 123456 - 1234567 * 1e15)").unwrap();
        assert_eq!(
            labels(&f),
            ["I(0.1 + 123456 - 1234567 * 1e+15)", "treated:scale(age)"]
        );
    }

    #[test]
    fn expressions_follow_r_precedence() {
        let var = |text: &str| Formula::parse(text).unwrap().terms[0].vars[0].clone();
        let col = |c: &str| Box::new(Expr::Column(c.into()));
        let num = |x: f64| Box::new(Expr::Number(Number::new(x)));
        // -x^2 is -(x^2); 2^-1 is 2^(-1); ^ groups from the right; * before +.
        assert_eq!(
            var("y ~ I(-x^2)"),
            Expr::AsIs(Box::new(Expr::Negate(Box::new(Expr::Binary(
                BinaryOp::Pow,
                col("x"),
                num(2.0)
            )))))
        );
        assert_eq!(
            var("y ~ I(a^b^c)"),
            Expr::AsIs(Box::new(Expr::Binary(
                BinaryOp::Pow,
                col("a"),
                Box::new(Expr::Binary(BinaryOp::Pow, col("b"), col("c")))
            )))
        );
        assert_eq!(
            var("y ~ I(a + b * c)"),
            Expr::AsIs(Box::new(Expr::Binary(
                BinaryOp::Add,
                col("a"),
                Box::new(Expr::Binary(BinaryOp::Mul, col("b"), col("c")))
            )))
        );
        // ! binds below comparisons and above &.
        assert_eq!(
            var("y ~ I(!a > 1 & b)"),
            Expr::AsIs(Box::new(Expr::Binary(
                BinaryOp::And,
                Box::new(Expr::Not(Box::new(Expr::Binary(
                    BinaryOp::Gt,
                    col("a"),
                    num(1.0)
                )))),
                col("b")
            )))
        );
        for (text, message) in [
            ("y ~ I(a < b < c)", "comparisons cannot be chained"),
            ("y ~ poly(x, 0)", "degree of poly()"),
            ("y ~ poly(x)", "expected ','"),
            ("y ~ I(x $ 2)", "unexpected character '$'"),
            ("y ~ log(offset(x))", "offset() can only be a term"),
            ("y ~ x^2", "unexpected '^'"),
        ] {
            let e = Formula::parse(text).unwrap_err().to_string();
            assert!(e.contains(message), "{text}: {e}");
        }
        // Long chains and deep unary nesting are refused, not a stack overflow.
        let chain = format!("y ~ I({})", vec!["x"; 100_000].join(" + "));
        assert!(Formula::parse(&chain)
            .unwrap_err()
            .to_string()
            .contains("at most 256 levels"));
        let power = format!("y ~ I({})", vec!["x"; 100_000].join("^"));
        assert!(Formula::parse(&power).is_err());
        let minus = format!("y ~ I({}x)", "-".repeat(100_000));
        assert!(Formula::parse(&minus).is_err());
        let ok = format!("y ~ I({})", vec!["x"; 200].join(" + "));
        assert_eq!(Formula::parse(&ok).unwrap().terms.len(), 1);
    }

    /// The position and message of a formula refused for its nesting.
    fn nesting_error(text: &str) -> (usize, String) {
        match Formula::parse(text) {
            Err(Error::Formula {
                position, message, ..
            }) => (position, message),
            other => panic!("expected a nesting error, got {other:?}"),
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_an_error_not_a_stack_overflow() {
        let nested = |open: &str, levels: usize, inner: &str| {
            format!("y ~ {}{inner}{}", open.repeat(levels), ")".repeat(levels))
        };
        for levels in [MAX_NESTING + 1, 5_000, 100_000] {
            let (position, message) = nesting_error(&nested("(", levels, "x"));
            // The parenthesis that opens level 257, after "y ~ " and 256 others.
            assert_eq!(position, 4 + MAX_NESTING, "{levels} levels");
            assert!(message.contains("at most 256 levels"), "{message}");
        }
        for levels in [200, MAX_NESTING] {
            let f = Formula::parse(&nested("(", levels, "x")).unwrap();
            assert_eq!(labels(&f), ["x"]);
        }
        // Function calls, random-effect terms and parenthesised minus signs count alike.
        let (position, _) = nesting_error(&nested("log(", 5_000, "x"));
        assert_eq!(position, 4 + 4 * MAX_NESTING + 3);
        let f = Formula::parse(&nested("log(", 200, "x")).unwrap();
        assert_eq!(f.terms[0].vars[0].columns(), ["x"]);
        assert_eq!(
            labels(&f),
            [format!("{}x{}", "log(".repeat(200), ")".repeat(200))]
        );
        nesting_error(&format!("y ~ offset({})", &nested("log(", 5_000, "t")[4..]));
        nesting_error(&nested("(", MAX_NESTING + 1, "1 | g"));
        let f = Formula::parse(&nested("(", MAX_NESTING, "1 | g")).unwrap();
        assert_eq!(f.random[0].group, ["g"]);
        nesting_error(&nested("-(", 100_000, "x"));
        nesting_error(&format!(
            "cbind({}, f) ~ x",
            &nested("log(", 5_000, "s")[4..]
        ));
    }

    #[test]
    fn long_chains_of_one_operator_parse_without_deep_recursion() {
        let chain = |op: &str| format!("y ~ {}", vec!["x"; 100_000].join(op));
        assert_eq!(labels(&Formula::parse(&chain(" + ")).unwrap()), ["x"]);
        assert_eq!(labels(&Formula::parse(&chain("*")).unwrap()), ["x"]);
        assert_eq!(labels(&Formula::parse(&chain(":")).unwrap()), ["x"]);
        let f = Formula::parse(&format!("{} - x + 0", chain(" - "))).unwrap();
        assert!(f.terms.is_empty() && !f.intercept);
        // The flat chains expand as the binary ones did, from the left.
        let f = Formula::parse("y ~ a * b * c - a:b:c").unwrap();
        assert_eq!(labels(&f), ["a", "b", "c", "a:b", "a:c", "b:c"]);
        let f = Formula::parse("y ~ -1 + a + b - a").unwrap();
        assert_eq!(labels(&f), ["b"]);
        assert!(!f.intercept);
    }

    #[test]
    fn builder_matches_text() {
        let b = FormulaBuilder::binomial_counts("events", "trials")
            .term("treated")
            .interaction(&["treated", "own home"])
            .offset_log("pt")
            .random_slopes(&["treated"], "cluster")
            .build()
            .unwrap();
        let t = Formula::parse(
            "cbind(events, trials - events) ~ treated + treated:`own home` + offset(log(pt)) + (1 + treated | cluster)",
        )
        .unwrap();
        assert_eq!(b.terms, t.terms);
        assert_eq!(b.random, t.random);
        assert_eq!(b.offsets, t.offsets);
        assert_eq!(b.response, t.response);
    }
}
