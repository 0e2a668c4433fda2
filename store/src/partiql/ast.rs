//! The statement tree the parser builds: what a PartiQL statement says,
//! before any table is consulted. Values stay literals (or `?` parameters,
//! numbered in the order they appear) until the planner binds them.

/// One PartiQL statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select(Select),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
}

impl Statement {
    /// The table the statement names.
    pub fn table(&self) -> &str {
        match self {
            Statement::Select(s) => &s.table,
            Statement::Insert(s) => &s.table,
            Statement::Update(s) => &s.table,
            Statement::Delete(s) => &s.table,
        }
    }

    /// How many `?` parameters the statement takes.
    pub fn parameters(&self) -> usize {
        match self {
            Statement::Select(s) => s.parameters,
            Statement::Insert(s) => s.parameters,
            Statement::Update(s) => s.parameters,
            Statement::Delete(s) => s.parameters,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, Statement::Select(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// `None`: `SELECT *`.
    pub projection: Option<Vec<Path>>,
    pub table: String,
    pub index: Option<String>,
    pub filter: Option<Expr>,
    pub order: Option<Order>,
    pub parameters: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub path: Path,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub table: String,
    /// The item, a `{…}` tuple (or a parameter holding a map).
    pub item: Literal,
    pub parameters: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub table: String,
    pub actions: Vec<UpdateAction>,
    pub filter: Expr,
    pub returning: Option<Returning>,
    pub parameters: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub table: String,
    pub filter: Expr,
    pub returning: Option<Returning>,
    pub parameters: usize,
}

/// `RETURNING … *`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returning {
    AllOld,
    ModifiedOld,
    AllNew,
    ModifiedNew,
}

impl Returning {
    /// The ReturnValues of the equivalent UpdateItem/DeleteItem.
    pub fn return_values(self) -> &'static str {
        match self {
            Returning::AllOld => "ALL_OLD",
            Returning::ModifiedOld => "UPDATED_OLD",
            Returning::AllNew => "ALL_NEW",
            Returning::ModifiedNew => "UPDATED_NEW",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Returning::AllOld => "ALL OLD",
            Returning::ModifiedOld => "MODIFIED OLD",
            Returning::AllNew => "ALL NEW",
            Returning::ModifiedNew => "MODIFIED NEW",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum UpdateAction {
    Set(Path, SetValue),
    Remove(Path),
}

/// The right-hand side of `SET path = …`.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    Operand(Operand),
    Plus(Operand, Operand),
    Minus(Operand, Operand),
    ListAppend(Operand, Operand),
    /// `set_add(path, set)`: the path must be the one being set.
    SetAdd(Path, Operand),
    /// `set_delete(path, set)`.
    SetDelete(Path, Operand),
}

/// A document path: `a.b[0]."c d"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<Step>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Name(String),
    Index(u32),
}

impl Path {
    /// The attribute name, when the path is a bare top-level attribute.
    pub fn attribute(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Step::Name(n)] => Some(n),
            _ => None,
        }
    }

    /// The top-level attribute the path reads.
    pub fn root(&self) -> Option<&str> {
        match self.0.first() {
            Some(Step::Name(n)) => Some(n),
            _ => None,
        }
    }
}

/// A literal value in PartiQL's DynamoDB notation, or a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    /// A number, as written (validated when bound).
    Num(String),
    Bool(bool),
    Null,
    /// The index of a `?` parameter.
    Param(usize),
    Map(Vec<(String, Literal)>),
    List(Vec<Literal>),
    /// `<<…>>`: a string, number or binary set, by its members' type.
    Set(Vec<Literal>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(Literal),
    Size(Path),
}

/// The comparison operators, shared with the expression language.
pub use crate::expr::CmpOp;

/// The functions a WHERE clause may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    BeginsWith,
    Contains,
    AttributeType,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::BeginsWith => "begins_with",
            Function::Contains => "contains",
            Function::AttributeType => "attribute_type",
        }
    }
}

/// A WHERE condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, CmpOp, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    /// `path IS MISSING` (`false`) or `path IS NOT MISSING` (`true`).
    Present(Path, bool),
    Call(Function, Path, Operand),
}

impl Expr {
    /// The conjuncts of a chain of ANDs, in order.
    pub fn conjuncts(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::And(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                other => out.push(other),
            }
        }
        out
    }

    /// Every top-level attribute the condition reads.
    pub fn roots(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::Or(a, b) | Expr::And(a, b) => {
                    stack.push(a);
                    stack.push(b);
                }
                Expr::Not(a) => stack.push(a),
                Expr::Cmp(a, _, b) => {
                    push_root(a, &mut out);
                    push_root(b, &mut out);
                }
                Expr::Between(a, b, c) => {
                    push_root(a, &mut out);
                    push_root(b, &mut out);
                    push_root(c, &mut out);
                }
                Expr::In(a, list) => {
                    push_root(a, &mut out);
                    for o in list {
                        push_root(o, &mut out);
                    }
                }
                Expr::Present(p, _) => out.extend(p.root()),
                Expr::Call(_, p, o) => {
                    out.extend(p.root());
                    push_root(o, &mut out);
                }
            }
        }
        out
    }
}

fn push_root<'a>(o: &'a Operand, out: &mut Vec<&'a str>) {
    match o {
        Operand::Path(p) | Operand::Size(p) => out.extend(p.root()),
        Operand::Value(_) => {}
    }
}
