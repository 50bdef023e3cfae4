//! Operations: what a load balancer, an orchestrator or an operator asks of the server.

pub(crate) mod health;
