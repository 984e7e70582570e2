//! Arithmetic operators on values (`&a + &b`, `&x * 0.125`, `-&x`). Scalars
//! become rank-0 constants of the other operand's dtype. Every operator
//! records the caller's line, like the named ops.

use super::builder::Value;
use super::ops;
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! value_operator {
    ($tr:ident, $method:ident, $op:path) => {
        impl $tr<&Value> for &Value {
            type Output = Value;
            #[track_caller]
            fn $method(self, rhs: &Value) -> Value {
                $op(self, rhs)
            }
        }
        impl $tr<Value> for Value {
            type Output = Value;
            #[track_caller]
            fn $method(self, rhs: Value) -> Value {
                $op(&self, &rhs)
            }
        }
        impl $tr<&Value> for Value {
            type Output = Value;
            #[track_caller]
            fn $method(self, rhs: &Value) -> Value {
                $op(&self, rhs)
            }
        }
        impl $tr<Value> for &Value {
            type Output = Value;
            #[track_caller]
            fn $method(self, rhs: Value) -> Value {
                $op(self, &rhs)
            }
        }
        impl $tr<f64> for &Value {
            type Output = Value;
            #[track_caller]
            fn $method(self, rhs: f64) -> Value {
                let s = ops::scalar(self.graph(), rhs, self.dtype());
                $op(self, &s)
            }
        }
        impl $tr<f64> for Value {
            type Output = Value;
            #[track_caller]
            fn $method(self, rhs: f64) -> Value {
                let s = ops::scalar(self.graph(), rhs, self.dtype());
                $op(&self, &s)
            }
        }
        impl $tr<&Value> for f64 {
            type Output = Value;
            #[track_caller]
            fn $method(self, rhs: &Value) -> Value {
                let s = ops::scalar(rhs.graph(), self, rhs.dtype());
                $op(&s, rhs)
            }
        }
    };
}

value_operator!(Add, add, ops::add);
value_operator!(Sub, sub, ops::sub);
value_operator!(Mul, mul, ops::mul);
value_operator!(Div, div, ops::div);

impl Neg for &Value {
    type Output = Value;
    #[track_caller]
    fn neg(self) -> Value {
        ops::neg(self)
    }
}

impl Neg for Value {
    type Output = Value;
    #[track_caller]
    fn neg(self) -> Value {
        ops::neg(&self)
    }
}
