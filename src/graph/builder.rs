//! The MAX-style builder: a [`Graph`] handle and [`Value`]s that know their
//! graph, so ops are free functions (`ops::matmul(&x, &w)`) and arithmetic
//! operators work on values.
//!
//! Errors are found when an op is built and recorded with the Rust line that
//! built it. The op returns a *poisoned* value instead of panicking; ops on
//! poisoned values stay poisoned without adding noise, and the graph refuses
//! to be used (`output`, `ir`, the interpreter, the compiler) until the
//! errors are fixed. `Value::checked()` surfaces an error at once for code
//! that wants `?` on every line.

use super::dim::Dim;
use super::dtype::DType;
use super::error::{GraphError, ShapeError, SourceLoc};
use super::infer::{infer, TensorType};
use super::ir::{Ir, Node, NodeId};
use super::op::Op;
use super::tensor::Tensor;
use std::cell::{Ref, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

struct State {
    ir: Ir,
    errors: Vec<GraphError>,
    inputs: HashMap<String, NodeId>,
    weights: HashMap<String, NodeId>,
    /// While set, new nodes carry this location instead of their builder's
    /// line (see [`Graph::with_location`]).
    location_override: Option<SourceLoc>,
}

/// A graph under construction. Cheap to clone (a shared handle).
#[derive(Clone)]
pub struct Graph {
    state: Rc<RefCell<State>>,
}

/// A tensor-valued node of a graph, or a poisoned placeholder for an op that
/// failed to build (see the module docs).
#[derive(Clone)]
pub struct Value {
    graph: Graph,
    node: Result<NodeId, Poison>,
}

/// A value whose op failed to build (or read a failed value): the first
/// error behind it, and the type it would have had where that is known
/// (a declared input or weight, or an op whose operands' types are known),
/// so model code can keep reading shapes and report every error at once.
#[derive(Clone, Debug)]
struct Poison {
    error: usize,
    ty: Option<TensorType>,
}

impl Graph {
    /// An empty graph; `name` appears in dumps and error messages
    /// (HF's class name, `DistilBertModel`, reads best).
    pub fn new(name: impl Into<String>) -> Graph {
        Graph {
            state: Rc::new(RefCell::new(State {
                ir: Ir::new(name),
                errors: Vec::new(),
                inputs: HashMap::new(),
                weights: HashMap::new(),
                location_override: None,
            })),
        }
    }

    /// Wraps an already-built IR (what passes produce, or a graph read back)
    /// so more ops can be appended to it with the builder; its inputs and
    /// weights are registered under their names.
    pub fn from_ir(ir: Ir) -> Graph {
        let mut inputs = HashMap::new();
        let mut weights = HashMap::new();
        for id in ir.graph.node_indices() {
            // Only declared sources are registered by name.
            if let Op::Input { name, .. } = &ir.node(id).op {
                inputs.insert(name.clone(), id);
            } else if let Op::Weight { name, .. } = &ir.node(id).op {
                weights.insert(name.clone(), id);
            }
        }
        Graph {
            state: Rc::new(RefCell::new(State { ir, errors: Vec::new(), inputs, weights, location_override: None })),
        }
    }

    /// The value of an existing node, `None` when the graph has no such node.
    pub fn value(&self, id: NodeId) -> Option<Value> {
        let exists = self.state.borrow().ir.graph.contains_node(id);
        exists.then(|| Value { graph: self.clone(), node: Ok(id) })
    }

    /// Runs `f` with every node it adds carrying `location` instead of the
    /// line that built it. Generated code (autodiff's backward ops) uses this
    /// to point each node at the user's line it derives from. Nests: the
    /// previous location is restored afterwards.
    pub fn with_location<R>(&self, location: SourceLoc, f: impl FnOnce() -> R) -> R {
        let previous = self.state.borrow_mut().location_override.replace(location);
        let result = f();
        self.state.borrow_mut().location_override = previous;
        result
    }

    /// The name given to [`Graph::new`].
    pub fn name(&self) -> String {
        self.state.borrow().ir.name.clone()
    }

    /// Declares a runtime input, named as the HF forward argument.
    #[track_caller]
    pub fn input(
        &self,
        name: impl Into<String>,
        dtype: DType,
        shape: impl IntoIterator<Item = impl Into<Dim>>,
    ) -> Value {
        let location = SourceLoc::caller();
        let name = name.into();
        let shape: Vec<Dim> = shape.into_iter().map(Into::into).collect();
        let existing = self.state.borrow().inputs.get(&name).copied();
        if let Some(first) = existing {
            let first = self.state.borrow().ir.node(first).location;
            let ty = TensorType::new(dtype, shape);
            return self.poison_typed(GraphError::DuplicateInput { name, first, second: location }, Some(ty));
        }
        let v = self.source(Op::Input { name: name.clone(), dtype, shape }, location);
        if let Ok(id) = v.node {
            self.state.borrow_mut().inputs.insert(name, id);
        }
        v
    }

    /// Limits the sizes the symbolic dim `symbol` may take to `range`;
    /// `why` names where the bound comes from. Binding inputs outside it is
    /// a [`BindError::OutOfRange`](super::BindError::OutOfRange) naming the
    /// input, the size and this reason. A second limit on the same symbol
    /// narrows the first.
    ///
    /// ```
    /// use wgraph::graph::{bind_inputs, ops, DType, Graph, Tensor};
    /// let g = Graph::new("positions");
    /// let ids = g.input("input_ids", DType::I64, ["batch", "seq"]);
    /// g.limit("seq", 1..=4, "max_position_embeddings = 4 in config.json");
    /// g.output_named([("n", ops::sum(&ops::cast(&ids, DType::F32), -1, false))])?;
    /// let ir = g.ir()?;
    /// let long = Tensor::new([1, 5], vec![0i64; 5])?;
    /// let e = bind_inputs(&ir, vec![("input_ids".into(), long)]).unwrap_err();
    /// assert!(e.to_string().contains("`seq` = 5"), "{e}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn limit(&self, symbol: &str, range: std::ops::RangeInclusive<usize>, why: impl Into<String>) {
        let limit =
            super::ir::DimLimit { symbol: symbol.to_string(), min: *range.start(), max: *range.end(), why: why.into() };
        self.state.borrow_mut().ir.limits.push(limit);
    }

    /// Declares a weight, named by its checkpoint key. Declaring the same
    /// name again with the same type returns the same value (tied weights).
    #[track_caller]
    pub fn weight(
        &self,
        name: impl Into<String>,
        dtype: DType,
        shape: impl IntoIterator<Item = impl Into<Dim>>,
    ) -> Value {
        let location = SourceLoc::caller();
        let name = name.into();
        let shape: Vec<Dim> = shape.into_iter().map(Into::into).collect();
        let existing = self.state.borrow().weights.get(&name).copied();
        if let Some(first) = existing {
            let (first_ty, first_loc) = {
                let st = self.state.borrow();
                let n = st.ir.node(first);
                (n.ty.clone(), n.location)
            };
            let ty = TensorType::new(dtype, shape);
            if first_ty == ty {
                return Value { graph: self.clone(), node: Ok(first) };
            }
            let error = GraphError::DuplicateWeight {
                name,
                first_type: first_ty.to_string(),
                second_type: ty.to_string(),
                first: first_loc,
                second: location,
            };
            return self.poison_typed(error, Some(ty));
        }
        let v = self.source(Op::Weight { name: name.clone(), dtype, shape, quant: None }, location);
        if let Ok(id) = v.node {
            self.state.borrow_mut().weights.insert(name, id);
        }
        v
    }

    /// Embeds a literal tensor.
    #[track_caller]
    pub fn constant(&self, value: Tensor) -> Value {
        self.source(Op::Constant { value: Arc::new(value) }, SourceLoc::caller())
    }

    /// Declares the graph's outputs. Values named with [`Value::named`] keep
    /// their name; others are called `output_0`, `output_1`, ...
    /// Returns every error recorded while building.
    #[track_caller]
    pub fn output<I>(&self, values: I) -> Result<(), GraphError>
    where
        I: IntoIterator,
        I::Item: std::borrow::Borrow<Value>,
    {
        let named: Vec<(String, Value)> = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let v: Value = std::borrow::Borrow::<Value>::borrow(&v).clone();
                (v.name().unwrap_or_else(|| format!("output_{i}")), v)
            })
            .collect();
        self.output_named(named)
    }

    /// Declares outputs under explicit names (`logits`, `last_hidden_state`).
    #[track_caller]
    pub fn output_named<I, S, V>(&self, values: I) -> Result<(), GraphError>
    where
        I: IntoIterator<Item = (S, V)>,
        S: Into<String>,
        V: std::borrow::Borrow<Value>,
    {
        let location = SourceLoc::caller();
        for (name, v) in values {
            let name = name.into();
            let v: &Value = std::borrow::Borrow::borrow(&v);
            if let Err(e) = self.own(v, "output", location) {
                self.state.borrow_mut().errors.push(e);
                continue;
            }
            let Ok(id) = v.node else { continue };
            let mut st = self.state.borrow_mut();
            if st.ir.outputs.iter().any(|(n, _)| *n == name) {
                st.errors.push(GraphError::DuplicateOutput { name, location });
            } else {
                st.ir.outputs.push((name, id));
            }
        }
        self.errors_as_result()
    }

    /// Every error recorded so far, as one error (or `Ok` when there are none).
    pub fn errors_as_result(&self) -> Result<(), GraphError> {
        let st = self.state.borrow();
        match st.errors.len() {
            0 => Ok(()),
            1 => Err(st.errors[0].clone()),
            _ => Err(GraphError::Build { graph: st.ir.name.clone(), errors: st.errors.clone() }),
        }
    }

    /// The finished IR: fails when building recorded errors or the graph has
    /// no outputs.
    pub fn ir(&self) -> Result<Ref<'_, Ir>, GraphError> {
        self.errors_as_result()?;
        let st = self.state.borrow();
        if st.ir.outputs.is_empty() {
            return Err(GraphError::NoOutputs { graph: st.ir.name.clone() });
        }
        Ok(Ref::map(st, |s| &s.ir))
    }

    /// The IR as built so far, even when it has errors (for dumps).
    pub fn ir_unchecked(&self) -> Ref<'_, Ir> {
        Ref::map(self.state.borrow(), |s| &s.ir)
    }

    /// Errors recorded while building, in order.
    pub fn errors(&self) -> Vec<GraphError> {
        self.state.borrow().errors.clone()
    }

    pub(crate) fn same(&self, other: &Graph) -> bool {
        Rc::ptr_eq(&self.state, &other.state)
    }

    fn poison(&self, error: GraphError) -> Value {
        self.poison_typed(error, None)
    }

    fn poison_typed(&self, error: GraphError, ty: Option<TensorType>) -> Value {
        let mut st = self.state.borrow_mut();
        tracing::debug!(%error, "graph build error");
        st.errors.push(error);
        Value { graph: self.clone(), node: Err(Poison { error: st.errors.len() - 1, ty }) }
    }

    fn source(&self, op: Op, location: SourceLoc) -> Value {
        match infer(&op, &[]) {
            Ok(ty) => self.push(op, ty, &[], location),
            Err(source) => self.poison(GraphError::Op { op: op.name(), location, source: Box::new(source) }),
        }
    }

    fn push(&self, op: Op, ty: TensorType, operands: &[NodeId], location: SourceLoc) -> Value {
        let location = self.state.borrow().location_override.unwrap_or(location);
        let id =
            self.state.borrow_mut().ir.add_node(Node { op, ty, name: None, aliases: Vec::new(), location }, operands);
        Value { graph: self.clone(), node: Ok(id) }
    }

    fn own(&self, v: &Value, op: &'static str, location: SourceLoc) -> Result<(), GraphError> {
        if self.same(&v.graph) {
            Ok(())
        } else {
            Err(GraphError::ForeignValue { op, location, graph: self.name(), other: v.graph.name() })
        }
    }

    /// Builds an op from operands: `make` sees the operand types and returns
    /// the op (resolving negative axes and defaults), then the one inference
    /// function types it. Any failure poisons the result at the caller's line.
    #[track_caller]
    pub(crate) fn build(
        op_name: &'static str,
        operands: &[&Value],
        make: impl FnOnce(&[&TensorType]) -> Result<Op, ShapeError>,
    ) -> Value {
        let location = SourceLoc::caller();
        let Some(first) = operands.first() else {
            // Only a variadic op (concat) can get here, with an empty list:
            // there is no graph to record into, so the error lives in a
            // detached one and surfaces through `checked()` or as a foreign
            // value when used.
            let detached = Graph::new("<no operands>");
            return detached.poison(GraphError::Op {
                op: op_name,
                location,
                source: Box::new(ShapeError::Invalid { what: op_name, detail: "needs at least one operand".into() }),
            });
        };
        let graph = first.graph.clone();
        for v in operands {
            if let Err(e) = graph.own(v, op_name, location) {
                return graph.poison(e);
            }
        }
        if let Some(first_poison) = operands.iter().find_map(|v| v.node.as_ref().err()) {
            // Stay poisoned without a new error, but keep the type this op
            // would have when every operand's type is known.
            let types: Option<Vec<TensorType>> = operands.iter().map(|v| v.ty()).collect();
            let ty = types.and_then(|t| {
                let refs: Vec<&TensorType> = t.iter().collect();
                make(&refs).and_then(|op| infer(&op, &refs)).ok()
            });
            return Value { graph, node: Err(Poison { error: first_poison.error, ty }) };
        }
        let ids: Vec<NodeId> = operands.iter().filter_map(|v| v.node.as_ref().ok().copied()).collect();
        let typed = {
            let st = graph.state.borrow();
            let types: Vec<&TensorType> = ids.iter().map(|&id| &st.ir.node(id).ty).collect();
            make(&types).and_then(|op| infer(&op, &types).map(|ty| (op, ty)))
        };
        match typed {
            Ok((op, ty)) => graph.push(op, ty, &ids, location),
            Err(source) => graph.poison(GraphError::Op { op: op_name, location, source: Box::new(source) }),
        }
    }

    /// Adds a source op (no operands) at the caller's line.
    #[track_caller]
    pub(crate) fn build_source(&self, op: Op) -> Value {
        self.source(op, SourceLoc::caller())
    }
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("Graph")
            .field("name", &st.ir.name)
            .field("nodes", &st.ir.graph.node_count())
            .field("errors", &st.errors.len())
            .finish()
    }
}

impl Value {
    /// The graph this value belongs to.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The node, or `None` for a poisoned value.
    pub fn node_id(&self) -> Option<NodeId> {
        self.node.as_ref().ok().copied()
    }

    /// Whether the op behind this value failed to build.
    pub fn is_poisoned(&self) -> bool {
        self.node.is_err()
    }

    /// This value, or the error that poisoned it.
    pub fn checked(self) -> Result<Value, GraphError> {
        match &self.node {
            Ok(_) => Ok(self),
            Err(p) => Err(self.graph.state.borrow().errors[p.error].clone()),
        }
    }

    /// The static type: for a poisoned value, the type it would have had
    /// when that is known, else `None`.
    pub fn ty(&self) -> Option<TensorType> {
        match &self.node {
            Ok(id) => Some(self.graph.state.borrow().ir.node(*id).ty.clone()),
            Err(p) => p.ty.clone(),
        }
    }

    /// The shape (for a poisoned value of unknown type, empty: its error is
    /// already recorded; use [`Value::dim`] to index safely).
    pub fn shape(&self) -> Vec<Dim> {
        self.ty().map(|t| t.shape).unwrap_or_default()
    }

    /// The dtype (f32 for a poisoned value of unknown type, whose error is already recorded).
    pub fn dtype(&self) -> DType {
        self.ty().map_or(DType::F32, |t| t.dtype)
    }

    /// The number of axes (0 for a poisoned value of unknown type).
    pub fn rank(&self) -> usize {
        self.shape().len()
    }

    /// One dim; negative axes count from the end. Out of range gives `None`.
    pub fn dim(&self, axis: isize) -> Option<Dim> {
        let shape = self.shape();
        let a = super::axis::resolve_axis(axis, shape.len()).ok()?;
        Some(shape[a].clone())
    }

    /// Names this value by the HF module path whose output it equals
    /// (`encoder.layer.0.attention`); dumps, taps and comparisons use it.
    /// Naming a value twice keeps both names (the second is an alias): a
    /// layer's output is also its last LayerNorm's output.
    pub fn named(self, name: impl Into<String>) -> Value {
        if let Ok(id) = self.node {
            let name = name.into();
            let node = &mut self.graph.state.borrow_mut().ir.graph[id];
            match &node.name {
                None => node.name = Some(name),
                Some(first) if *first != name && !node.aliases.contains(&name) => node.aliases.push(name),
                Some(_) => {}
            }
        }
        self
    }

    /// The name given with [`Value::named`], if any.
    pub fn name(&self) -> Option<String> {
        let id = self.node_id()?;
        self.graph.state.borrow().ir.node(id).name.clone()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.node, self.ty()) {
            (Ok(id), Some(ty)) => write!(f, "%{} : {ty}", id.index()),
            (Err(_), Some(ty)) => write!(f, "<poisoned> : {ty}"),
            (_, None) => f.write_str("<poisoned>"),
        }
    }
}
