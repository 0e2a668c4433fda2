//! The parsed, unresolved form of an expression.
//!
//! An AST depends only on the expression's text: `#name` and `:value`
//! references are kept as written, so one parsed expression can be cached and
//! shared (`Arc<Ast>`) by every request that sends the same text, whatever
//! its ExpressionAttributeNames/Values. Resolution (`resolve.rs`) turns it
//! into the evaluable types.
//!
//! Every AST prints (`Display`) as an expression that parses back to an equal
//! AST; parentheses are printed only where precedence needs them, so printing
//! never introduces the "redundant parentheses" DynamoDB rejects.

use std::fmt;

/// Which request parameter an expression came from. It selects the grammar
/// and is the label in error messages ("Invalid ConditionExpression: ...").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Condition => "ConditionExpression",
            Kind::Filter => "FilterExpression",
            Kind::KeyCondition => "KeyConditionExpression",
            Kind::Update => "UpdateExpression",
            Kind::Projection => "ProjectionExpression",
        }
    }

    pub(crate) fn is_condition(self) -> bool {
        matches!(self, Kind::Condition | Kind::Filter | Kind::KeyCondition)
    }
}

/// One attribute name inside a document path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Name {
    /// Written literally, e.g. `a`.
    Plain(String),
    /// A `#ref`, stored with its `#`.
    Ref(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Name(Name),
    Index(u32),
}

/// A document path such as `a.#b[2].c`. Invariant: non-empty, and the first
/// step is a `Name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<Step>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Contains,
    Size,
    IfNotExists,
    ListAppend,
}

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::AttributeExists => "attribute_exists",
            Func::AttributeNotExists => "attribute_not_exists",
            Func::AttributeType => "attribute_type",
            Func::BeginsWith => "begins_with",
            Func::Contains => "contains",
            Func::Size => "size",
            Func::IfNotExists => "if_not_exists",
            Func::ListAppend => "list_append",
        }
    }

    /// Function names are case-sensitive in DynamoDB.
    pub fn from_name(s: &str) -> Option<Func> {
        Some(match s {
            "attribute_exists" => Func::AttributeExists,
            "attribute_not_exists" => Func::AttributeNotExists,
            "attribute_type" => Func::AttributeType,
            "begins_with" => Func::BeginsWith,
            "contains" => Func::Contains,
            "size" => Func::Size,
            "if_not_exists" => Func::IfNotExists,
            "list_append" => Func::ListAppend,
            _ => return None,
        })
    }

    pub fn arity(self) -> usize {
        match self {
            Func::AttributeExists | Func::AttributeNotExists | Func::Size => 1,
            _ => 2,
        }
    }

    /// Functions that are conditions by themselves (as opposed to producing
    /// a value).
    pub fn is_boolean(self) -> bool {
        matches!(
            self,
            Func::AttributeExists
                | Func::AttributeNotExists
                | Func::AttributeType
                | Func::BeginsWith
                | Func::Contains
        )
    }

    pub fn is_update_only(self) -> bool {
        matches!(self, Func::IfNotExists | Func::ListAppend)
    }
}

/// A value-producing term.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operand {
    Path(Path),
    /// A `:ref`, stored with its `:`.
    Value(String),
    Call(Func, Vec<Operand>),
    /// Only in UpdateExpression SET values.
    Plus(Box<Operand>, Box<Operand>),
    Minus(Box<Operand>, Box<Operand>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }
}

/// A condition (ConditionExpression, FilterExpression, KeyConditionExpression).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Cond {
    Cmp(CmpOp, Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    /// A boolean function such as `attribute_exists(a)`.
    Call(Func, Vec<Operand>),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clause {
    Set,
    Remove,
    Add,
    Delete,
}

impl Clause {
    pub fn keyword(self) -> &'static str {
        match self {
            Clause::Set => "SET",
            Clause::Remove => "REMOVE",
            Clause::Add => "ADD",
            Clause::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    Set(Path, Operand),
    Remove(Path),
    /// `ADD path :value`
    Add(Path, Operand),
    /// `DELETE path :value`
    Delete(Path, Operand),
}

/// An UpdateExpression: its clauses in the order written (each at most once).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpdateAst {
    pub clauses: Vec<(Clause, Vec<Action>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectionAst {
    pub paths: Vec<Path>,
}

/// What the cache stores.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ast {
    Condition(Cond),
    Update(UpdateAst),
    Projection(ProjectionAst),
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Plain(s) | Name::Ref(s) => f.write_str(s),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Name(n) if i == 0 => write!(f, "{n}")?,
                Step::Name(n) => write!(f, ".{n}")?,
                Step::Index(ix) => write!(f, "[{ix}]")?,
            }
        }
        Ok(())
    }
}

fn write_args(f: &mut fmt::Formatter<'_>, func: Func, args: &[Operand]) -> fmt::Result {
    write!(f, "{}(", func.name())?;
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{a}")?;
    }
    f.write_str(")")
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Path(p) => write!(f, "{p}"),
            Operand::Value(v) => f.write_str(v),
            Operand::Call(func, args) => write_args(f, *func, args),
            Operand::Plus(a, b) => write!(f, "{a} + {b}"),
            Operand::Minus(a, b) => write!(f, "{a} - {b}"),
        }
    }
}

impl Cond {
    /// Binding strength: OR < AND < NOT < everything else.
    fn precedence(&self) -> u8 {
        match self {
            Cond::Or(..) => 0,
            Cond::And(..) => 1,
            Cond::Not(..) => 2,
            _ => 3,
        }
    }

    fn write_child(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        if self.precedence() < min {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cond::Cmp(op, a, b) => write!(f, "{a} {} {b}", op.symbol()),
            Cond::Between(a, lo, hi) => write!(f, "{a} BETWEEN {lo} AND {hi}"),
            Cond::In(a, list) => {
                write!(f, "{a} IN (")?;
                for (i, x) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str(")")
            }
            Cond::Call(func, args) => write_args(f, *func, args),
            Cond::Not(c) => {
                f.write_str("NOT ")?;
                c.write_child(f, 2)
            }
            // Both operators are parsed left-associatively, so a right child
            // of the same operator needs parentheses to keep its shape.
            Cond::And(a, b) => {
                a.write_child(f, 1)?;
                f.write_str(" AND ")?;
                b.write_child(f, 2)
            }
            Cond::Or(a, b) => {
                a.write_child(f, 0)?;
                f.write_str(" OR ")?;
                b.write_child(f, 1)
            }
        }
    }
}

impl fmt::Display for UpdateAst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (ci, (clause, actions)) in self.clauses.iter().enumerate() {
            if ci > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{} ", clause.keyword())?;
            for (i, a) in actions.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                match a {
                    Action::Set(p, v) => write!(f, "{p} = {v}")?,
                    Action::Remove(p) => write!(f, "{p}")?,
                    Action::Add(p, v) | Action::Delete(p, v) => write!(f, "{p} {v}")?,
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for ProjectionAst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.paths.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Ast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ast::Condition(c) => write!(f, "{c}"),
            Ast::Update(u) => write!(f, "{u}"),
            Ast::Projection(p) => write!(f, "{p}"),
        }
    }
}
