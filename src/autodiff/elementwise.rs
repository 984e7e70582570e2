//! Derivatives of the elementwise unary and binary functions, written as
//! PyTorch writes them in `derivatives.yaml` so kinks, ties and 0^0 agree.
//! Binary gradients come back in the broadcast output shape; the caller
//! undoes the broadcasting.

use crate::graph::{ops, BinaryOp, Gelu, UnaryOp, Value};
use std::f64::consts::{FRAC_2_SQRT_PI, PI, SQRT_2};

fn scalar(like: &Value, v: f64) -> Value {
    ops::scalar(like.graph(), v, like.dtype())
}

/// `sign(x)` as a float, with `sign(0) = 0` (so `abs'(0) = 0`, as PyTorch's `sgn`).
fn sign(x: &Value) -> Value {
    let zero = scalar(x, 0.0);
    let pos = ops::cast(&ops::gt(x, &zero), x.dtype());
    let neg = ops::cast(&ops::lt(x, &zero), x.dtype());
    &pos - &neg
}

/// The gradient of `y = f(x)` given the cotangent `g`; `None` for the bool
/// `not`, which has no gradient.
pub(crate) fn unary_vjp(op: UnaryOp, x: &Value, y: &Value, g: &Value) -> Option<Value> {
    Some(match op {
        UnaryOp::Neg => -g,
        // abs'(0) = 0.
        UnaryOp::Abs => g * &sign(x),
        UnaryOp::Exp => g * y,
        UnaryOp::Log => g / x,
        // g / (2 sqrt(x)): inf at x = 0 for g != 0, as PyTorch.
        UnaryOp::Sqrt => g / &(y * 2.0),
        // d/dx x^-1/2 = -1/2 y^3.
        UnaryOp::Rsqrt => g * &(&(y * y) * y) * -0.5,
        UnaryOp::Recip => -(g * &(y * y)),
        UnaryOp::Tanh => g * &(1.0 - &(y * y)),
        UnaryOp::Sigmoid => g * &(y * &(1.0 - y)),
        // relu'(0) = 0: the gradient passes only where x > 0 (PyTorch's
        // `threshold_backward`), chosen with `where` so an infinite `g`
        // elsewhere does not turn into NaN.
        UnaryOp::Relu => ops::select(&ops::gt(x, &scalar(x, 0.0)), g, &scalar(x, 0.0)),
        // silu'(x) = s (1 + x (1 - s)), s = sigmoid(x).
        UnaryOp::Silu => {
            let s = ops::sigmoid(x);
            g * &(&s * &(1.0 + &(x * &(1.0 - &s))))
        }
        // gelu'(x) = Phi(x) + x phi(x).
        UnaryOp::Gelu(Gelu::Erf) => {
            let cdf = &(1.0 + &ops::erf(&(x * (1.0 / SQRT_2)))) * 0.5;
            let pdf = &ops::exp(&(&(x * x) * -0.5)) * (1.0 / (2.0 * PI).sqrt());
            g * &(&cdf + &(x * &pdf))
        }
        // PyTorch's `GeluBackward` for approximate='tanh'.
        UnaryOp::Gelu(Gelu::Tanh) => {
            let (beta, kappa) = ((2.0 / PI).sqrt(), 0.044715);
            let x2 = x * x;
            let inner = &(x + &(&(&x2 * x) * kappa)) * beta;
            let t = ops::tanh(&inner);
            let left = &(1.0 + &t) * 0.5;
            let right = &(&(&(x * 0.5) * &(1.0 - &(&t * &t))) * beta) * &(1.0 + &(&x2 * (3.0 * kappa)));
            g * &(&left + &right)
        }
        // erf'(x) = 2/sqrt(pi) exp(-x^2).
        UnaryOp::Erf => g * &(&ops::exp(&-(x * x)) * FRAC_2_SQRT_PI),
        UnaryOp::Sin => g * &ops::cos(x),
        UnaryOp::Cos => -(g * &ops::sin(x)),
        UnaryOp::Not => return None,
    })
}

/// A gradient built only if wanted.
type Lazy<'a> = Box<dyn FnOnce() -> Value + 'a>;

/// The gradients of `y = a op b` in the broadcast shape of `y`, each built
/// only when wanted; `None` for the bool `and`/`or`.
pub(crate) fn binary_vjp(
    op: BinaryOp,
    a: &Value,
    b: &Value,
    y: &Value,
    g: &Value,
    want_a: bool,
    want_b: bool,
) -> (Option<Value>, Option<Value>) {
    let zero = || scalar(g, 0.0);
    let (ga, gb): (Lazy<'_>, Lazy<'_>) = match op {
        BinaryOp::Add => (Box::new(|| g.clone()), Box::new(|| g.clone())),
        BinaryOp::Sub => (Box::new(|| g.clone()), Box::new(|| -g)),
        BinaryOp::Mul => (Box::new(|| g * b), Box::new(|| g * a)),
        // other: -g * a / (b * b), as PyTorch.
        BinaryOp::Div => (Box::new(|| g / b), Box::new(|| -(&(g * a) / &(b * b)))),
        // self: where(b == 0, 0, g * b * a^(b - 1));
        // exponent: g * where(a == 0 & b >= 0, 0, y * log(a)).
        BinaryOp::Pow => (
            Box::new(|| {
                let d = &(g * b) * &ops::pow(a, &(b - 1.0));
                ops::select(&ops::eq(b, &zero()), &zero(), &d)
            }),
            Box::new(|| {
                let masked = ops::and(&ops::eq(a, &zero()), &ops::ge(b, &zero()));
                g * &ops::select(&masked, &zero(), &(y * &ops::log(a)))
            }),
        ),
        // maximum: where(a == b, g/2, g), zeroed where the operand lost.
        BinaryOp::Max => (Box::new(|| tie_split(a, b, g, true)), Box::new(|| tie_split(b, a, g, true))),
        BinaryOp::Min => (Box::new(|| tie_split(a, b, g, false)), Box::new(|| tie_split(b, a, g, false))),
        BinaryOp::And | BinaryOp::Or => return (None, None),
    };
    (want_a.then(ga), want_b.then(gb))
}

/// The gradient of `this` in `maximum(this, other)` (or `minimum`):
/// `g` where `this` wins, `g / 2` on a tie, `0` where it loses (PyTorch).
fn tie_split(this: &Value, other: &Value, g: &Value, max: bool) -> Value {
    let zero = scalar(g, 0.0);
    let half = ops::select(&ops::eq(this, other), &(g * 0.5), g);
    let loses = if max { ops::lt(this, other) } else { ops::gt(this, other) };
    ops::select(&loses, &zero, &half)
}
