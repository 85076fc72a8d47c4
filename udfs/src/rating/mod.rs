//! Functions rating and billing need: destination zones by longest prefix, billable units of an
//! increment scheme, and exact decimal rounding for money.

pub mod billable_units;
pub mod destination_zone;
pub mod rounding;
