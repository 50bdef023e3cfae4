//! Operations: what a load balancer, an orchestrator or an operator asks of the server.

#[cfg(feature = "compression")]
pub(crate) mod compression;
#[cfg(feature = "cors")]
pub(crate) mod cors;
pub(crate) mod health;
#[cfg(feature = "metrics")]
pub(crate) mod metrics;
