//! Redfish client: reads (and, for `apply`, writes) the BMC/BIOS/DPU state of one server.
//!
//! Standards: DMTF DSP0266 (Redfish Specification) and the DMTF Redfish schemas (DSP8010
//! bundle; DSP0268 guide). This first step holds the vendor-tolerant serde model
//! ([`model`]) and the error type ([`error`]).

pub mod error;
pub mod model;
